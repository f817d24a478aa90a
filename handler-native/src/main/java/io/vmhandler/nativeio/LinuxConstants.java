package io.vmhandler.nativeio;

/**
 * Kernel ABI constants for x86-64 Linux, each with the header that defines it. The real-resource
 * integration tests are what verify them.
 */
public final class LinuxConstants {
    private LinuxConstants() {}

    // <fcntl.h> / <asm-generic/fcntl.h>
    public static final int O_RDONLY = 0;
    public static final int O_WRONLY = 1;
    public static final int O_RDWR = 2;
    public static final int O_CREAT = 0100;
    public static final int O_EXCL = 0200;
    public static final int O_NOCTTY = 0400;
    public static final int O_DIRECTORY = 0200000;
    public static final int O_NOFOLLOW = 0400000;
    public static final int O_CLOEXEC = 02000000;
    public static final int O_PATH = 010000000;
    public static final int AT_FDCWD = -100;
    public static final int AT_REMOVEDIR = 0x200;
    public static final int AT_EMPTY_PATH = 0x1000;

    // <sys/stat.h>: st_mode file type bits
    public static final int S_IFMT = 0170000;
    public static final int S_IFCHR = 0020000;

    // <linux/openat2.h>
    public static final long RESOLVE_NO_XDEV = 0x01;
    public static final long RESOLVE_NO_MAGICLINKS = 0x02;
    public static final long RESOLVE_NO_SYMLINKS = 0x04;
    public static final long RESOLVE_BENEATH = 0x08;
    public static final long RESOLVE_IN_ROOT = 0x10;

    // <asm/unistd_64.h>
    public static final long SYS_fstat = 5;
    public static final long SYS_pidfd_send_signal = 424;
    public static final long SYS_pidfd_open = 434;
    public static final long SYS_openat2 = 437;
    public static final long SYS_renameat2 = 316;

    // <linux/fs.h> (uapi): renameat2(2) flags
    public static final int RENAME_EXCHANGE = 1 << 1;

    // <linux/sched.h>
    public static final int CLONE_NEWNS = 0x00020000;
    public static final int CLONE_NEWCGROUP = 0x02000000;
    public static final int CLONE_NEWUTS = 0x04000000;
    public static final int CLONE_NEWIPC = 0x08000000;
    public static final int CLONE_NEWUSER = 0x10000000;
    public static final int CLONE_NEWPID = 0x20000000;
    public static final int CLONE_NEWNET = 0x40000000;

    // <linux/sched.h> scheduling policies
    public static final int SCHED_OTHER = 0;
    public static final int SCHED_FIFO = 1;
    public static final int SCHED_RR = 2;
    public static final int SCHED_RESET_ON_FORK = 0x40000000;

    // <linux/nsfs.h>: _IO(0xb7, 0x3)
    public static final long NS_GET_NSTYPE = 0xb703L;
    /**
     * PIDFD_GET_NET_NAMESPACE, include/uapi/linux/pidfd.h: _IO(PIDFS_IOCTL_MAGIC 0xFF, 4), Linux 6.11. An fd of the
     * network namespace of the pidfd's process (O_CLOEXEC), or ESRCH once it has exited.
     */
    public static final long PIDFD_GET_NET_NAMESPACE = 0xff04L;

    // <linux/if_tun.h>
    public static final long TUNSETIFF = 0x400454caL;
    public static final long TUNSETPERSIST = 0x400454cbL;
    public static final long TUNSETOWNER = 0x400454ccL;
    public static final long TUNSETGROUP = 0x400454ceL;
    public static final long TUNGETIFF = 0x800454d2L;
    public static final long TUNSETQUEUE = 0x400454d9L;
    public static final short IFF_TUN = 0x0001;
    public static final short IFF_TAP = 0x0002;
    public static final short IFF_NAPI = 0x0010;
    public static final short IFF_NO_PI = 0x1000;
    public static final short IFF_ONE_QUEUE = 0x2000;
    public static final short IFF_VNET_HDR = 0x4000;
    public static final short IFF_TUN_EXCL = (short) 0x8000;
    public static final short IFF_MULTI_QUEUE = 0x0100;
    public static final short IFF_ATTACH_QUEUE = 0x0200;
    public static final short IFF_DETACH_QUEUE = 0x0400;
    public static final short IFF_PERSIST = 0x0800;

    // <linux/sockios.h>
    public static final long SIOCGIFMTU = 0x8921L;
    public static final long SIOCSIFMTU = 0x8922L;
    public static final long SIOCGIFINDEX = 0x8933L;

    // <net/if.h>: IFNAMSIZ includes the NUL; struct ifreq is 40 bytes on x86-64, the union at 16
    public static final int IFNAMSIZ = 16;
    public static final int IFREQ_SIZE = 40;

    // <sys/socket.h>
    public static final int AF_UNIX = 1;
    public static final int AF_INET = 2;
    public static final int AF_NETLINK = 16;
    public static final int SOCK_STREAM = 1;
    public static final int SOCK_DGRAM = 2;
    public static final int SOCK_RAW = 3;
    public static final int SOCK_CLOEXEC = O_CLOEXEC;
    public static final int SOL_SOCKET = 1;
    public static final int SO_RCVBUF = 8;
    public static final int SO_PEERCRED = 17;
    public static final int SO_RCVTIMEO = 20;
    public static final int MSG_TRUNC = 0x20;

    // <linux/netlink.h>
    public static final int NETLINK_ROUTE = 0;
    public static final int SOL_NETLINK = 270;
    public static final int NETLINK_EXT_ACK = 11;
    public static final int NETLINK_GET_STRICT_CHK = 12;

    // <sys/resource.h>
    public static final int RLIMIT_MEMLOCK = 8;
    /** RLIM_INFINITY is ~0UL: all ones, i.e. -1 as a signed Java long. */
    public static final long RLIM_INFINITY = -1L;

    // <signal.h>
    public static final int SIGKILL = 9;
    public static final int SIGTERM = 15;

    // <linux/capability.h>
    public static final int CAP_NET_ADMIN = 12;
    public static final int CAP_SYS_ADMIN = 21;
    public static final int CAP_SYS_NICE = 23;
    public static final int CAP_SYS_RESOURCE = 24;
}
