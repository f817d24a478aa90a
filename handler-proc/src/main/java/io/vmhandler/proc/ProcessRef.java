package io.vmhandler.proc;

import io.vmhandler.nativeio.Fd;
import io.vmhandler.nativeio.NetNamespace;
import io.vmhandler.nativeio.SyscallException;
import io.vmhandler.nativeio.Syscalls;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import jnr.constants.platform.Errno;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One process pinned down against pid reuse: a pidfd (which can never refer to another process),
 * plus the start time read while the pidfd proved the process alive. It is the one pid-reuse guard:
 * actions that have a pidfd form (setns) use the pidfd; the others (prlimit, sched_setaffinity) call
 * {@link #requireAlive()} before and {@link #verifyUnchanged()} after acting.
 *
 * <p>Why that suffices: while the pidfd's process is alive its pid cannot be reused, so "alive by the
 * pidfd" right before a pid-addressed syscall means the pid still named it; "alive" right after
 * means the syscall cannot have hit a successor either. The stat re-read in verifyUnchanged is the
 * belt to that brace and costs one /proc read.
 *
 * <p>Thread-safe for concurrent checks; {@link #close()} while another thread acts makes that
 * thread's checks fail with EBADF.
 */
public final class ProcessRef implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ProcessRef.class);
    /** False once the kernel refused PIDFD_GET_NET_NAMESPACE: it will refuse it for every process. */
    private static volatile boolean namespacesByPidfd = true;

    private final ProcFs proc;
    private final Fd pidfd;
    private final int pid;
    private volatile ProcessInfo info;

    private ProcessRef(ProcFs proc, Fd pidfd, int pid, ProcessInfo info) {
        this.proc = proc;
        this.pidfd = pidfd;
        this.pid = pid;
        this.info = info;
    }

    /**
     * Opens a pidfd first, then reads /proc, then checks the pidfd is still alive: if it is, what
     * /proc said belonged to this very process, because a live process's pid cannot be reused.
     */
    public static ProcessRef open(ProcFs proc, int pid) throws IOException {
        if (pid <= 0) {
            throw new IllegalArgumentException("pid must be > 0, got " + pid);
        }
        Fd fd;
        try {
            fd = Syscalls.pidfdOpen(pid);
        } catch (SyscallException e) {
            throw ProcessGoneException.ifGone(e, pid);
        }
        try {
            ProcessInfo info = ProcessInfo.read(proc, pid);
            ProcessRef ref = new ProcessRef(proc, fd, pid, info);
            ref.requireAlive();
            return ref;
        } catch (IOException | RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    /**
     * Only the pidfd: nothing is read from /proc until {@link #info()} is first asked for (and then proven this
     * process's the same way {@link #open} does). A launcher call needs the caller's pidfd for every check but its
     * start time, uids and comm only on Release, so its identity costs pidfd_open and no /proc/PID/stat or status
     * read. Everything that acts through the ref guards against pid reuse exactly as an {@link #open}ed one does.
     */
    public static ProcessRef openPidfd(ProcFs proc, int pid) throws IOException {
        if (pid <= 0) {
            throw new IllegalArgumentException("pid must be > 0, got " + pid);
        }
        try {
            return new ProcessRef(proc, Syscalls.pidfdOpen(pid), pid, null);
        } catch (SyscallException e) {
            throw ProcessGoneException.ifGone(e, pid);
        }
    }

    public static ProcessRef open(Path procRoot, int pid) throws IOException {
        return open(new ProcFs(procRoot), pid);
    }

    public int pid() {
        return pid;
    }

    /**
     * What /proc said about the process while the pidfd proved it alive; read on first use for a ref from
     * {@link #openPidfd}.
     *
     * @throws UncheckedIOException ({@link ProcessGoneException} inside) if the process exited before a first read
     */
    public ProcessInfo info() {
        ProcessInfo i = info;
        if (i == null) {
            synchronized (this) {
                i = info;
                if (i == null) {
                    try {
                        i = ProcessInfo.read(proc, pid);
                        requireAlive(); // what /proc said belonged to this very process
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                    info = i;
                }
            }
        }
        return i;
    }

    /** The procfs this ref reads, for further reads about the same process. */
    public ProcFs proc() {
        return proc;
    }

    /** The pidfd, usable with setns(2) for the process's namespaces (Linux 5.8). */
    public Fd pidfd() {
        return pidfd;
    }

    /**
     * An fd of the process's network namespace: from the pidfd (PIDFD_GET_NET_NAMESPACE) where the kernel has it,
     * else opened through /proc and then proven to be this process's by the pidfd: if the process is still alive
     * after the open, its pid was not reused.
     * Unlike the pidfd, the fd stays usable after the process exits (setns on the pidfd of a dead
     * process fails with ESRCH), so work begun for a live caller can still be undone in its
     * namespace when the caller dies midway. While open, it also keeps the namespace alive after
     * the pod's last process is gone: close it as soon as the call is done.
     */
    public Fd openNetns() throws IOException {
        // Through the pidfd where the kernel can (6.11): one ioctl instead of a /proc path walk, the namespace type
        // check and the liveness probe after them (together ~12 us against ~7 us in C, more under the deployment's
        // C1 JIT). Only for the host's /proc: a ProcFs rooted elsewhere is a test's view, and the pidfd could not
        // follow it.
        if (namespacesByPidfd && proc.root().equals(ProcFs.DEFAULT_ROOT)) {
            try {
                return Syscalls.pidfdNetNamespace(pidfd, "/proc/" + pid + "/ns/net");
            } catch (SyscallException e) {
                if (e.errno() != Errno.ENOTTY && e.errno() != Errno.EINVAL) {
                    throw ProcessGoneException.ifGone(e, pid);
                }
                namespacesByPidfd = false;
                log.atInfo().addKeyValue("errno", e.errno().name())
                        .log("the kernel has no PIDFD_GET_NET_NAMESPACE (Linux 6.11): netns fds are opened through /proc");
            }
        }
        Fd ns = NetNamespace.openNetns(proc.namespacePath(pid, "net").toString());
        try {
            requireAlive();
            return ns;
        } catch (IOException | RuntimeException e) {
            ns.close();
            throw e;
        }
    }

    /** Whether {@link #openNetns} goes through the pidfd on this kernel (false after the first refusal). */
    static boolean namespacesByPidfd() {
        return namespacesByPidfd;
    }

    /** pidfd_send_signal(0): no /proc read. Throws {@link ProcessGoneException} once the process exited. */
    public void requireAlive() throws IOException {
        try {
            Syscalls.pidfdSendSignal(pidfd, 0);
        } catch (SyscallException e) {
            throw ProcessGoneException.ifGone(e, pid);
        }
    }

    /**
     * Throws if the process exited or the pid now names a process with another start time. One read
     * of /proc/PID/stat, then the pidfd: if the process is alive after the read, the stat was its own.
     */
    public void verifyUnchanged() throws IOException {
        long before = info().startTime();
        long now = proc.stat(pid).startTime();
        requireAlive();
        if (now != before) {
            throw new ProcessGoneException(pid);
        }
    }

    @Override
    public void close() {
        pidfd.close();
    }
}
