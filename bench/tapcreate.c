/*
 * The syscall floor of persistent tap creation, for bin/bench-tap to compare vmhandler against.
 *
 * Usage: tapcreate NETNS_PATH QUEUES WARMUP ITERATIONS MTU UID GID PREFIX
 *
 * Enters the network namespace once (setns), opens one AF_INET datagram socket for SIOCSIFMTU once,
 * then per tap runs the minimal sequence and times it with CLOCK_MONOTONIC:
 *   open("/dev/net/tun"), TUNSETIFF(IFF_TAP|IFF_NO_PI|IFF_VNET_HDR|IFF_TUN_EXCL[|IFF_MULTI_QUEUE]),
 *   TUNSETOWNER, TUNSETGROUP, SIOCSIFMTU, TUNSETPERSIST(1), close.
 * No read-back, no checks beyond the syscall return codes: it is the lower bound, not a peer.
 * Prints one line per measured tap (nanoseconds). Every tap it made is deleted before it exits
 * (re-attach with TUNSETIFF, TUNSETPERSIST(0), close), also after a failure.
 * Ioctl numbers and flags come from <linux/if_tun.h> and <linux/sockios.h>.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static short tap_flags(int queues) {
    return IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (queues > 1 ? IFF_MULTI_QUEUE : 0);
}

static void tap_name(char *out, const char *prefix, int i) {
    snprintf(out, IFNAMSIZ, "%s%d", prefix, i);
}

static int create(const char *name, int queues, int ctl, int mtu, uid_t uid, gid_t gid) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, name, strnlen(name, IFNAMSIZ - 1));
    ifr.ifr_flags = tap_flags(queues) | IFF_TUN_EXCL;
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        perror("open /dev/net/tun");
        return -1;
    }
    if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETOWNER, (unsigned long) uid) < 0
            || ioctl(fd, TUNSETGROUP, (unsigned long) gid) < 0) {
        fprintf(stderr, "%s: %s\n", name, strerror(errno));
        close(fd);
        return -1;
    }
    ifr.ifr_mtu = mtu;
    if (ioctl(ctl, SIOCSIFMTU, &ifr) < 0 || ioctl(fd, TUNSETPERSIST, 1UL) < 0) {
        fprintf(stderr, "%s: %s\n", name, strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

static void destroy(const char *name, int queues) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, name, strnlen(name, IFNAMSIZ - 1));
    ifr.ifr_flags = tap_flags(queues);
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    if (ioctl(fd, TUNSETIFF, &ifr) == 0) {
        ioctl(fd, TUNSETPERSIST, 0UL);
    }
    close(fd);
}

int main(int argc, char **argv) {
    if (argc != 9) {
        fprintf(stderr, "usage: %s NETNS_PATH QUEUES WARMUP ITERATIONS MTU UID GID PREFIX\n", argv[0]);
        return 2;
    }
    int queues = atoi(argv[2]), warm = atoi(argv[3]), n = atoi(argv[4]), mtu = atoi(argv[5]);
    uid_t uid = (uid_t) strtoul(argv[6], NULL, 10);
    gid_t gid = (gid_t) strtoul(argv[7], NULL, 10);
    const char *prefix = argv[8];
    if (queues < 1 || warm < 0 || n < 1 || strlen(prefix) > 8) {
        fprintf(stderr, "queues >= 1, warmup >= 0, iterations >= 1, prefix <= 8 bytes\n");
        return 2;
    }
    int ns = open(argv[1], O_RDONLY | O_CLOEXEC);
    if (ns < 0 || setns(ns, CLONE_NEWNET) < 0) {
        perror(argv[1]);
        return 1;
    }
    close(ns);
    int ctl = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (ctl < 0) {
        perror("socket");
        return 1;
    }
    long long *t = calloc((size_t) n, sizeof *t);
    int made = 0, rc = 0;
    char name[IFNAMSIZ];
    for (int i = 0; i < warm + n; i++) {
        tap_name(name, prefix, i);
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        int r = create(name, queues, ctl, mtu, uid, gid);
        clock_gettime(CLOCK_MONOTONIC, &b);
        if (r < 0) {
            rc = 1;
            break;
        }
        made = i + 1;
        if (i >= warm) {
            t[i - warm] = (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
        }
    }
    if (rc == 0) {
        for (int i = 0; i < n; i++) {
            printf("%lld\n", t[i]);
        }
    }
    fflush(stdout);
    for (int i = 0; i < made; i++) {
        tap_name(name, prefix, i);
        destroy(name, queues);
    }
    free(t);
    close(ctl);
    return rc;
}
