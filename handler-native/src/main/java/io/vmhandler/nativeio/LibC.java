package io.vmhandler.nativeio;

import jnr.ffi.Pointer;
import jnr.ffi.annotations.IgnoreError;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;
import jnr.ffi.annotations.SaveError;
import jnr.ffi.types.pid_t;
import jnr.ffi.types.size_t;
import jnr.ffi.types.ssize_t;

/**
 * The jnr-ffi binding on glibc. Names and argument order mirror the C prototypes exactly; nothing
 * outside {@link Syscalls} calls it, so no raw return code or errno escapes this package.
 *
 * <p>ioctl(2) is variadic in C. It is declared here with fixed arguments: on x86-64 SysV a fixed
 * call of a variadic function with integer/pointer arguments is ABI-identical (the callee only
 * reads %al to decide whether to spill vector registers), and every tap handler-net makes goes
 * through this declaration (IoctlTapDevicesIT creates real taps with it).
 *
 * <p>It is public only because jnr-ffi generates its implementation in another class loader, which
 * cannot implement a package-private interface. Treat it as internal.
 */
public interface LibC {
    @SaveError int open(String path, int flags, int mode);

    @SaveError int openat(int dirfd, String path, int flags, int mode);

    @SaveError int close(int fd);

    @SaveError @ssize_t long read(int fd, @Out byte[] buf, @size_t long count);

    @SaveError @ssize_t long write(int fd, @In byte[] buf, @size_t long count);

    @SaveError int mkdirat(int dirfd, String path, int mode);

    @SaveError int unlinkat(int dirfd, String path, int flags);

    @SaveError int ioctl(int fd, long request, @In @Out byte[] arg);

    @SaveError int ioctl(int fd, long request, long value);

    @SaveError int setns(int fd, int nstype);

    @SaveError int sched_setaffinity(@pid_t int pid, @size_t long cpusetsize, @In byte[] mask);

    @SaveError int sched_getaffinity(@pid_t int pid, @size_t long cpusetsize, @Out byte[] mask);

    @SaveError int sched_setscheduler(@pid_t int pid, int policy, @In int[] param);

    @SaveError int sched_getscheduler(@pid_t int pid);

    @SaveError int sched_getparam(@pid_t int pid, @Out int[] param);

    /** rlimits are two unsigned 64-bit words: rlim_cur, rlim_max. */
    @SaveError int prlimit(@pid_t int pid, int resource, @In long[] newLimit, @Out long[] oldLimit);

    @SaveError int prlimit(@pid_t int pid, int resource, Pointer newLimit, @Out long[] oldLimit);

    /** pidfd_open(2) has a glibc wrapper since 2.36 (Debian 12); the raw syscall keeps older libcs working. */
    @SaveError long syscall(long number, int arg1, int arg2);

    /** pidfd_send_signal(2): syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0). */
    @SaveError long syscall(long number, int pidfd, int sig, Pointer info, int flags);

    /** openat2(2) has no glibc wrapper: syscall(SYS_openat2, dirfd, path, &how, sizeof how). */
    @SaveError long syscall(long number, int dirfd, String path, @In long[] how, long size);

    /** renameat2(2) has a glibc wrapper only since 2.28: syscall(SYS_renameat2, olddirfd, old, newdirfd, new, flags). */
    @SaveError long syscall(long number, int oldDirfd, String oldPath, int newDirfd, String newPath, int flags);

    /** fstat(2) through syscall(SYS_fstat): the glibc symbol only exists since 2.33. buf is a 144-byte struct stat. */
    @SaveError long syscall(long number, int fd, @Out byte[] statBuf);

    @SaveError int fchownat(int dirfd, String path, int owner, int group, int flags);

    @SaveError int chmod(String path, int mode);

    @SaveError int socket(int domain, int type, int protocol);

    @SaveError int bind(int fd, @In byte[] addr, int addrlen);

    @SaveError @ssize_t long send(int fd, @In byte[] buf, @size_t long len, int flags);

    @SaveError @ssize_t long recv(int fd, @Out byte[] buf, @size_t long len, int flags);

    @SaveError int setsockopt(int fd, int level, int optname, @In int[] optval, int optlen);

    @SaveError int getsockopt(int fd, int level, int optname, @Out int[] optval, @In @Out int[] optlen);

    @SaveError int kill(@pid_t int pid, int sig);

    @IgnoreError int getpid();

    @IgnoreError int gettid();

    @IgnoreError int getuid();

    @IgnoreError int geteuid();

    @IgnoreError String strerror(int errnum);
}
