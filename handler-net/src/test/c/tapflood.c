/*
 * Traffic ends for the tap QoS rate ITs (RtnetlinkTapQosRateIT). Every loop is bounded by a
 * wall-clock duration; every address is given on the command line (the test's own netns).
 *
 *   tapflood read  TAP SECONDS
 *       attach to the existing tap (TUNSETIFF, IFF_TAP | IFF_NO_PI; works unprivileged for the tap's
 *       owner) and count the frames the tap transmits, i.e. what goes towards the guest.
 *   tapflood write TAP DSTMAC SRCIP DSTIP PORT BITS_PER_SEC SECONDS PAYLOAD
 *       attach to the tap and write Ethernet/IPv4/UDP frames into it, i.e. traffic from the guest,
 *       paced to BITS_PER_SEC of frame bytes.
 *   tapflood send  DSTIP PORT BITS_PER_SEC SECONDS PAYLOAD
 *       send UDP datagrams from a normal socket, paced to BITS_PER_SEC of payload.
 *   tapflood recv  PORT SECONDS
 *       count UDP datagrams arriving on PORT.
 *
 * read and recv print "frames BYTES FIRST_TO_LAST_NS" where BYTES are frame bytes (read) or UDP
 * payload bytes (recv); they stop SECONDS after the first frame, or after 2 s without one.
 *
 * read and write use the /dev/net/tun descriptor given as TUNFD in the environment when set (the
 * node may keep /dev/net/tun at mode 0600, as QEMU's launcher is handed an open descriptor too), and
 * print their Uid and CapEff lines from /proc/self/status first, so the caller can check that the
 * attach ran unprivileged.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void die(const char *what) {
    perror(what);
    exit(2);
}

static void print_identity(void) {
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) die("/proc/self/status");
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "Uid:", 4) || !strncmp(line, "CapEff:", 7)) fputs(line, stdout);
    }
    fclose(f);
}

static int attach(const char *tap) {
    const char *given = getenv("TUNFD");
    int fd = given ? atoi(given) : open("/dev/net/tun", O_RDWR);
    if (fd < 0) die("open /dev/net/tun");
    print_identity();
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    strncpy(ifr.ifr_name, tap, IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) die("TUNSETIFF");
    return fd;
}

/* Counts until SECONDS after the first arrival, or 2 s of silence. */
static void count(int fd, double seconds) {
    static char buf[65536];
    long long frames = 0, bytes = 0;
    int64_t first = 0, last = 0, deadline = now_ns() + 30000000000LL;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, 2000);
        if (r < 0 && errno != EINTR) die("poll");
        if (r == 0) break;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            die("read");
        }
        int64_t t = now_ns();
        if (frames == 0) {
            first = t;
            deadline = t + (int64_t)(seconds * 1e9);
        }
        last = t;
        frames++;
        bytes += n;
        if (t >= deadline) break;
    }
    printf("%lld %lld %lld\n", frames, bytes, (long long)(last - first));
}

/* Blocks until BYTES_SO_FAR is within the budget of RATE bytes/s since START. */
static void pace(int64_t start, double rate_bytes, long long bytes_so_far) {
    for (;;) {
        double allowed = (now_ns() - start) / 1e9 * rate_bytes;
        if (bytes_so_far <= allowed) return;
        struct timespec s = {0, 100000};
        nanosleep(&s, NULL);
    }
}

static uint16_t ip_checksum(const uint8_t *h, int len) {
    uint32_t sum = 0;
    for (int i = 0; i < len; i += 2) sum += (h[i] << 8) | h[i + 1];
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static void write_frames(const char *tap, const char *dstmac, const char *srcip, const char *dstip, int port,
                         double bits, double seconds, int payload) {
    int fd = attach(tap);
    uint8_t f[9000];
    if (payload < 1 || payload > 8000) { fprintf(stderr, "payload 1..8000\n"); exit(2); }
    int len = 14 + 20 + 8 + payload;
    memset(f, 0, sizeof f);
    unsigned m[6];
    if (sscanf(dstmac, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6) {
        fprintf(stderr, "bad mac %s\n", dstmac);
        exit(2);
    }
    for (int i = 0; i < 6; i++) f[i] = (uint8_t)m[i];
    uint8_t src[6] = {0x02, 0, 0, 0, 0, 0x02};
    memcpy(f + 6, src, 6);
    f[12] = 0x08; f[13] = 0x00;
    uint8_t *ip = f + 14;
    ip[0] = 0x45;
    uint16_t tot = htons(20 + 8 + payload);
    memcpy(ip + 2, &tot, 2);
    ip[8] = 64; ip[9] = 17;
    if (inet_pton(AF_INET, srcip, ip + 12) != 1 || inet_pton(AF_INET, dstip, ip + 16) != 1) {
        fprintf(stderr, "bad ip\n");
        exit(2);
    }
    uint16_t c = htons(ip_checksum(ip, 20));
    memcpy(ip + 10, &c, 2);
    uint8_t *udp = ip + 20;
    uint16_t sp = htons(40000), dp = htons((uint16_t)port), ul = htons(8 + payload);
    memcpy(udp, &sp, 2); memcpy(udp + 2, &dp, 2); memcpy(udp + 4, &ul, 2); /* checksum 0: none (IPv4) */
    int64_t start = now_ns(), end = start + (int64_t)(seconds * 1e9);
    long long sent = 0;
    while (now_ns() < end) {
        pace(start, bits / 8, sent);
        if (write(fd, f, len) == len) sent += len;
    }
    printf("wrote %lld\n", sent);
}

static void send_udp(const char *dstip, int port, double bits, double seconds, int payload) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0) die("socket");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, dstip, &a.sin_addr) != 1) { fprintf(stderr, "bad ip\n"); exit(2); }
    static char buf[9000];
    if (payload < 1 || payload > 8000) { fprintf(stderr, "payload 1..8000\n"); exit(2); }
    int64_t start = now_ns(), end = start + (int64_t)(seconds * 1e9);
    long long sent = 0;
    while (now_ns() < end) {
        pace(start, bits / 8, sent);
        /* a full qdisc answers ENOBUFS: the datagram is dropped, which is the point */
        if (sendto(s, buf, payload, 0, (struct sockaddr *)&a, sizeof a) == payload) sent += payload;
        else sent += payload;
    }
    printf("sent %lld\n", sent);
}

static void recv_udp(int port, double seconds) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0) die("socket");
    /* a large buffer, so a late-scheduled counter loses nothing; FORCE needs CAP_NET_ADMIN (root in the netns) */
    int big = 64 << 20;
    if (setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) < 0)
        setsockopt(s, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
    printf("ready\n");
    fflush(stdout);
    count(s, seconds);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 4 && !strcmp(argv[1], "read")) {
        int fd = attach(argv[2]);
        printf("ready\n");
        count(fd, atof(argv[3]));
    } else if (argc == 10 && !strcmp(argv[1], "write")) {
        write_frames(argv[2], argv[3], argv[4], argv[5], atoi(argv[6]), atof(argv[7]), atof(argv[8]), atoi(argv[9]));
    } else if (argc == 7 && !strcmp(argv[1], "send")) {
        send_udp(argv[2], atoi(argv[3]), atof(argv[4]), atof(argv[5]), atoi(argv[6]));
    } else if (argc == 4 && !strcmp(argv[1], "recv")) {
        recv_udp(atoi(argv[2]), atof(argv[3]));
    } else {
        fprintf(stderr, "usage: see the comment at the top of tapflood.c\n");
        return 2;
    }
    return 0;
}
