package io.vmhandler.nativeio;

import static io.vmhandler.nativeio.LinuxConstants.*;

import java.nio.charset.StandardCharsets;
import java.util.BitSet;
import jnr.constants.platform.Errno;
import jnr.ffi.LastError;

/**
 * The throwing facade over {@link LibC}. Every method either returns normally or throws a
 * {@link SyscallException} naming the syscall, the errno and the target. EINTR is retried here so
 * callers never see it. errno is read immediately after the failing call, before any other native
 * call on the same thread can overwrite it.
 */
public final class Syscalls {
    private Syscalls() {}

    private static LibC libc() {
        return NativeSupport.libc();
    }

    private static int errno() {
        return LastError.getLastError(NativeSupport.runtime());
    }

    private static SyscallException fail(String syscall, String target) {
        return new SyscallException(syscall, errno(), target);
    }

    // ---- files -------------------------------------------------------------------------------

    /** open(2). The flags always gain O_CLOEXEC: a spawned helper must never inherit our fds. */
    public static Fd open(String path, int flags) throws SyscallException {
        return open(path, flags, 0);
    }

    public static Fd open(String path, int flags, int mode) throws SyscallException {
        while (true) {
            int fd = libc().open(path, flags | O_CLOEXEC, mode);
            if (fd >= 0) {
                return new Fd(fd, path);
            }
            int e = errno();
            if (e != Errno.EINTR.intValue()) {
                throw new SyscallException("open", e, path);
            }
        }
    }

    /** openat(2) relative to a directory fd. */
    public static Fd openAt(Fd dir, String path, int flags) throws SyscallException {
        while (true) {
            int fd = libc().openat(dir.intValue(), path, flags | O_CLOEXEC, 0);
            if (fd >= 0) {
                return new Fd(fd, dir.label() + "/" + path);
            }
            int e = errno();
            if (e != Errno.EINTR.intValue()) {
                throw new SyscallException("openat", e, dir.label() + "/" + path);
            }
        }
    }

    /**
     * openat2(2) with a {@code resolve} mask (RESOLVE_*). This is how paths inside a pod are opened:
     * RESOLVE_IN_ROOT|RESOLVE_NO_SYMLINKS keeps every component inside {@code root} and refuses any
     * symlink, which is exactly what KubeVirt's two symlink CVEs lacked.
     */
    public static Fd openat2(Fd root, String path, int flags, long resolve) throws SyscallException {
        long[] how = {(long) (flags | O_CLOEXEC), 0L, resolve}; // struct open_how {u64 flags, mode, resolve}
        while (true) {
            long fd = libc().syscall(SYS_openat2, root == null ? AT_FDCWD : root.intValue(), path, how, 24L);
            String target = root == null ? path : root.label() + "/" + path;
            if (fd >= 0) {
                return new Fd((int) fd, target);
            }
            int e = errno();
            if (e != Errno.EINTR.intValue() && e != Errno.EAGAIN.intValue()) {
                throw new SyscallException("openat2", e, target);
            }
        }
    }

    public static int read(Fd fd, byte[] buf) throws SyscallException {
        while (true) {
            long n = libc().read(fd.intValue(), buf, buf.length);
            if (n >= 0) {
                return (int) n;
            }
            int e = errno();
            if (e != Errno.EINTR.intValue()) {
                throw new SyscallException("read", e, fd.label());
            }
        }
    }

    /** Reads a whole small file (procfs, sysfs, cgroupfs) through an fd the caller opened safely. */
    public static String readAll(Fd fd) throws SyscallException {
        byte[] buf = new byte[8192];
        StringBuilder sb = new StringBuilder();
        int n;
        while ((n = read(fd, buf)) > 0) {
            sb.append(new String(buf, 0, n, StandardCharsets.UTF_8));
        }
        return sb.toString();
    }

    public static void writeAll(Fd fd, byte[] data) throws SyscallException {
        int off = 0;
        while (off < data.length) {
            byte[] chunk = off == 0 ? data : java.util.Arrays.copyOfRange(data, off, data.length);
            long n = libc().write(fd.intValue(), chunk, chunk.length);
            if (n < 0) {
                int e = errno();
                if (e == Errno.EINTR.intValue()) {
                    continue;
                }
                throw new SyscallException("write", e, fd.label());
            }
            off += (int) n;
        }
    }

    /** fstat(2); works on O_PATH descriptors (open(2): "fstat(2) (since Linux 3.6)"). */
    public static FileStat fstat(Fd fd) throws SyscallException {
        byte[] buf = new byte[FileStat.STRUCT_SIZE];
        if (libc().syscall(SYS_fstat, fd.intValue(), buf) < 0) {
            throw fail("fstat", fd.label());
        }
        return FileStat.decode(buf);
    }

    /**
     * fchownat(fd, "", uid, gid, AT_EMPTY_PATH): changes the owner of the very inode {@code fd} refers
     * to, an O_PATH descriptor included, with no path walk that a concurrent rename could redirect.
     */
    public static void fchown(Fd fd, long uid, long gid) throws SyscallException {
        if (libc().fchownat(fd.intValue(), "", (int) uid, (int) gid, AT_EMPTY_PATH) < 0) {
            throw fail("fchownat", fd.label() + " to " + uid + ":" + gid);
        }
    }

    /**
     * chmod(2) of the inode an O_PATH descriptor refers to. fchmod(2) fails with EBADF on O_PATH fds,
     * and fchmodat(AT_EMPTY_PATH) only exists as fchmodat2 since Linux 6.6; open(2) documents the
     * /proc/self/fd/N route for O_PATH fds. The magic link resolves to the open file itself, not to
     * any name, so a rename or a symlink swapped into the original path cannot redirect it.
     * /proc/thread-self is used so the link is read in this process's own fd table.
     */
    public static void chmodPathFd(Fd fd, int mode) throws SyscallException {
        if (libc().chmod("/proc/thread-self/fd/" + fd.intValue(), mode) < 0) {
            throw fail("chmod", fd.label() + " to 0" + Integer.toOctalString(mode));
        }
    }

    static void closeQuietly(int fd) {
        libc().close(fd);
    }

    /** mkdirat(2) of one entry {@code name} inside the directory {@code dir} (an O_PATH fd is fine). */
    public static void mkdirAt(Fd dir, String name, int mode) throws SyscallException {
        if (libc().mkdirat(dir.intValue(), name, mode) < 0) {
            throw fail("mkdirat", dir.label() + "/" + name);
        }
    }

    /** unlinkat(2); with AT_REMOVEDIR it removes an empty directory (rmdir). */
    public static void unlinkAt(Fd dir, String name, int flags) throws SyscallException {
        if (libc().unlinkat(dir.intValue(), name, flags) < 0) {
            throw fail("unlinkat", dir.label() + "/" + name);
        }
    }

    /**
     * renameat2(2) with RENAME_EXCHANGE of two entries of the directory {@code dir}: each name then refers to what
     * the other did, atomically, and both must exist (ENOENT otherwise; EINVAL on a filesystem without it).
     */
    public static void renameExchange(Fd dir, String a, String b) throws SyscallException {
        if (libc().syscall(SYS_renameat2, dir.intValue(), a, dir.intValue(), b, RENAME_EXCHANGE) < 0) {
            throw fail("renameat2", dir.label() + "/" + a + " <-> " + b + " (RENAME_EXCHANGE)");
        }
    }

    // ---- ioctl -------------------------------------------------------------------------------

    /** ioctl(2) with an in/out buffer; {@code name} is the request's name for the error message. */
    public static int ioctl(Fd fd, long request, byte[] arg, String name, String target) throws SyscallException {
        while (true) {
            int r = libc().ioctl(fd.intValue(), request, arg);
            if (r >= 0) {
                return r;
            }
            int e = errno();
            if (e != Errno.EINTR.intValue()) {
                throw new SyscallException("ioctl(" + name + ")", e, target);
            }
        }
    }

    /** ioctl(2) whose argument is passed by value (TUNSETPERSIST, TUNSETOWNER, NS_GET_NSTYPE). */
    public static int ioctl(Fd fd, long request, long value, String name, String target) throws SyscallException {
        while (true) {
            int r = libc().ioctl(fd.intValue(), request, value);
            if (r >= 0) {
                return r;
            }
            int e = errno();
            if (e != Errno.EINTR.intValue()) {
                throw new SyscallException("ioctl(" + name + ")", e, target);
            }
        }
    }

    // ---- namespaces --------------------------------------------------------------------------

    /** The CLONE_NEW* type of a namespace fd (NS_GET_NSTYPE, Linux 4.11). */
    public static int namespaceType(Fd ns) throws SyscallException {
        return ioctl(ns, NS_GET_NSTYPE, 0L, "NS_GET_NSTYPE", ns.label());
    }

    /** setns(2) for the calling thread only. */
    public static void setns(Fd ns, int nstype) throws SyscallException {
        if (libc().setns(ns.intValue(), nstype) < 0) {
            throw fail("setns", ns.label());
        }
    }

    // ---- processes ---------------------------------------------------------------------------

    /** pidfd_open(2), Linux 5.3: a handle that can never refer to a reused pid. */
    public static Fd pidfdOpen(int pid) throws SyscallException {
        long fd = libc().syscall(SYS_pidfd_open, pid, 0);
        if (fd < 0) {
            throw fail("pidfd_open", "pid " + pid);
        }
        return new Fd((int) fd, "pidfd " + pid);
    }

    /**
     * pidfd_send_signal(2). With signal 0 it is a liveness probe that cannot be fooled by pid reuse:
     * ESRCH means the process the pidfd was opened for has exited, whatever now holds its pid.
     */
    public static void pidfdSendSignal(Fd pidfd, int signal) throws SyscallException {
        if (libc().syscall(SYS_pidfd_send_signal, pidfd.intValue(), signal, null, 0) < 0) {
            throw fail("pidfd_send_signal", pidfd.label());
        }
    }

    /**
     * The network namespace of the pidfd's process ({@link LinuxConstants#PIDFD_GET_NET_NAMESPACE}, Linux 6.11): no
     * path walk through /proc, no type check (it can only be a network namespace), no pid to be reused. Older kernels
     * answer ENOTTY (or EINVAL); ESRCH means the process has exited. {@code label} names the fd in later errors.
     */
    public static Fd pidfdNetNamespace(Fd pidfd, String label) throws SyscallException {
        int fd = ioctl(pidfd, PIDFD_GET_NET_NAMESPACE, 0L, "PIDFD_GET_NET_NAMESPACE", pidfd.label());
        return new Fd(fd, label);
    }

    public static void kill(int pid, int signal) throws SyscallException {
        if (libc().kill(pid, signal) < 0) {
            throw fail("kill", "pid " + pid);
        }
    }

    public static int getpid() {
        return libc().getpid();
    }

    public static int gettid() {
        return libc().gettid();
    }

    public static int getuid() {
        return libc().getuid();
    }

    public static int geteuid() {
        return libc().geteuid();
    }

    // ---- scheduling --------------------------------------------------------------------------

    public static BitSet getAffinity(int tid) throws SyscallException {
        byte[] mask = new byte[CpuSet.SETSIZE_BYTES];
        if (libc().sched_getaffinity(tid, mask.length, mask) < 0) {
            throw fail("sched_getaffinity", "tid " + tid);
        }
        return CpuSet.fromMask(mask);
    }

    public static void setAffinity(int tid, BitSet cpus) throws SyscallException {
        if (cpus.isEmpty()) {
            throw new IllegalArgumentException("sched_setaffinity(tid " + tid + "): the cpu set is empty");
        }
        byte[] mask = CpuSet.toMask(cpus);
        if (libc().sched_setaffinity(tid, mask.length, mask) < 0) {
            throw fail("sched_setaffinity", "tid " + tid + " cpus " + CpuSet.formatList(cpus));
        }
    }

    /** sched_setscheduler(2); priority is 1..99 for SCHED_FIFO/SCHED_RR and 0 otherwise. */
    public static void setScheduler(int tid, int policy, int priority) throws SyscallException {
        if (libc().sched_setscheduler(tid, policy, new int[] {priority}) < 0) {
            throw fail("sched_setscheduler", "tid " + tid + " policy " + policy + " priority " + priority);
        }
    }

    public static int getScheduler(int tid) throws SyscallException {
        int p = libc().sched_getscheduler(tid);
        if (p < 0) {
            throw fail("sched_getscheduler", "tid " + tid);
        }
        return p;
    }

    public static int getSchedPriority(int tid) throws SyscallException {
        int[] param = new int[1];
        if (libc().sched_getparam(tid, param) < 0) {
            throw fail("sched_getparam", "tid " + tid);
        }
        return param[0];
    }

    // ---- resource limits ---------------------------------------------------------------------

    /** prlimit(2) read-only: the current limit of {@code resource} for {@code pid}. */
    public static RLimit getRlimit(int pid, int resource) throws SyscallException {
        long[] old = new long[2];
        if (libc().prlimit(pid, resource, (jnr.ffi.Pointer) null, old) < 0) {
            throw fail("prlimit", "pid " + pid + " resource " + resource);
        }
        return new RLimit(old[0], old[1]);
    }

    /** prlimit(2) write: sets {@code limit} and returns the previous one. */
    public static RLimit setRlimit(int pid, int resource, RLimit limit) throws SyscallException {
        long[] old = new long[2];
        if (libc().prlimit(pid, resource, new long[] {limit.soft(), limit.hard()}, old) < 0) {
            throw fail("prlimit", "pid " + pid + " resource " + resource + " to " + limit);
        }
        return new RLimit(old[0], old[1]);
    }

    // ---- sockets -----------------------------------------------------------------------------

    public static Fd socket(int domain, int type, int protocol, String label) throws SyscallException {
        int fd = libc().socket(domain, type | SOCK_CLOEXEC, protocol);
        if (fd < 0) {
            throw fail("socket", label);
        }
        return new Fd(fd, label);
    }

    public static void bind(Fd fd, byte[] sockaddr) throws SyscallException {
        if (libc().bind(fd.intValue(), sockaddr, sockaddr.length) < 0) {
            throw fail("bind", fd.label());
        }
    }

    public static void setsockopt(Fd fd, int level, int option, int value) throws SyscallException {
        if (libc().setsockopt(fd.intValue(), level, option, new int[] {value}, 4) < 0) {
            throw fail("setsockopt", fd.label() + " option " + option);
        }
    }

    /** SO_PEERCRED of a connected unix socket: {pid, uid, gid}. */
    public static int[] peerCredentials(Fd fd) throws SyscallException {
        int[] cred = new int[3];
        if (libc().getsockopt(fd.intValue(), SOL_SOCKET, SO_PEERCRED, cred, new int[] {12}) < 0) {
            throw fail("getsockopt(SO_PEERCRED)", fd.label());
        }
        return cred;
    }

    public static void send(Fd fd, byte[] buf, int len) throws SyscallException {
        while (true) {
            long n = libc().send(fd.intValue(), buf, len, 0);
            if (n >= 0) {
                if (n != len) {
                    throw new SyscallException("send", Errno.EMSGSIZE.intValue(), fd.label(),
                            "short send " + n + " of " + len + " bytes");
                }
                return;
            }
            int e = errno();
            if (e != Errno.EINTR.intValue()) {
                throw new SyscallException("send", e, fd.label());
            }
        }
    }

    /** recv(2); with MSG_TRUNC the return value is the datagram's real length even if larger than buf. */
    public static int recv(Fd fd, byte[] buf, int flags) throws SyscallException {
        while (true) {
            long n = libc().recv(fd.intValue(), buf, buf.length, flags);
            if (n >= 0) {
                return (int) n;
            }
            int e = errno();
            if (e != Errno.EINTR.intValue()) {
                throw new SyscallException("recv", e, fd.label());
            }
        }
    }
}
