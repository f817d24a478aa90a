package io.vmhandler.proc;

import io.vmhandler.proc.ProcessGoneException;
import io.vmhandler.proc.ProcessInfo;
import io.vmhandler.nativeio.Fd;
import io.vmhandler.nativeio.NetNamespace;
import io.vmhandler.nativeio.SyscallException;
import io.vmhandler.nativeio.Syscalls;
import java.io.IOException;
import java.nio.file.Path;
import jnr.constants.platform.Errno;

/**
 * One process pinned down against pid reuse: a pidfd (which can never refer to another process),
 * plus the start time read while the pidfd proved the process alive. Actions that have a pidfd form
 * (setns) use the pidfd; the others (prlimit, sched_setaffinity) call {@link #verifyUnchanged()}
 * before and after acting.
 */
public final class ProcessRef implements AutoCloseable {
    private final Path procRoot;
    private final Fd pidfd;
    private final ProcessInfo info;

    private ProcessRef(Path procRoot, Fd pidfd, ProcessInfo info) {
        this.procRoot = procRoot;
        this.pidfd = pidfd;
        this.info = info;
    }

    /**
     * Opens a pidfd first, then reads /proc, then checks the pidfd is still alive: if it is, what
     * /proc said belonged to this very process, because a live process's pid cannot be reused.
     */
    public static ProcessRef open(Path procRoot, int pid) throws IOException {
        Fd fd;
        try {
            fd = Syscalls.pidfdOpen(pid);
        } catch (SyscallException e) {
            if (e.errno() == Errno.ESRCH) {
                throw new ProcessGoneException(pid);
            }
            throw e;
        }
        try {
            ProcessInfo info = ProcessInfo.read(procRoot, pid);
            ProcessRef ref = new ProcessRef(procRoot, fd, info);
            ref.requireAlive();
            return ref;
        } catch (IOException | RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    public int pid() {
        return info.pid();
    }

    public ProcessInfo info() {
        return info;
    }

    /** The pidfd, usable with setns(2) for the process's namespaces (Linux 5.8). */
    public Fd pidfd() {
        return pidfd;
    }

    /**
     * An fd of the process's network namespace, opened through /proc and then proven to be this
     * process's by the pidfd: if the process is still alive after the open, its pid was not reused.
     * Unlike the pidfd, the fd stays usable after the process exits (setns on the pidfd of a dead
     * process fails with ESRCH), so work begun for a live caller can still be undone in its
     * namespace when the caller dies midway. While open, it also keeps the namespace alive after
     * the pod's last process is gone: close it as soon as the call is done.
     */
    public Fd openNetns() throws IOException {
        Fd ns = NetNamespace.openNetns(procRoot.resolve(Integer.toString(info.pid())).resolve("ns/net").toString());
        try {
            requireAlive();
            return ns;
        } catch (IOException | RuntimeException e) {
            ns.close();
            throw e;
        }
    }

    public void requireAlive() throws IOException {
        try {
            Syscalls.pidfdSendSignal(pidfd, 0);
        } catch (SyscallException e) {
            if (e.errno() == Errno.ESRCH) {
                throw new ProcessGoneException(info.pid());
            }
            throw e;
        }
    }

    /** Throws if the process exited or the pid now names a process with another start time. */
    public void verifyUnchanged() throws IOException {
        requireAlive();
        ProcessInfo now = ProcessInfo.read(procRoot, info.pid());
        if (now.startTime() != info.startTime()) {
            throw new ProcessGoneException(info.pid());
        }
    }

    @Override
    public void close() {
        pidfd.close();
    }
}
