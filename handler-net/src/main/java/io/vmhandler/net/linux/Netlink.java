package io.vmhandler.net.linux;

import static io.vmhandler.nativeio.LinuxConstants.AF_NETLINK;
import static io.vmhandler.nativeio.LinuxConstants.MSG_TRUNC;
import static io.vmhandler.nativeio.LinuxConstants.NETLINK_ROUTE;
import static io.vmhandler.nativeio.LinuxConstants.SOCK_RAW;

import io.vmhandler.nativeio.Fd;
import io.vmhandler.nativeio.NamespaceWorkers;
import io.vmhandler.nativeio.SyscallException;
import io.vmhandler.nativeio.Syscalls;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import jnr.constants.platform.Errno;

/**
 * A minimal rtnetlink client: get, dump, set MTU and delete links, plus raw requests ({@link #transact})
 * for other rtnetlink families such as tc. The socket belongs to the network
 * namespace of the thread that opened it, so open it inside {@code NetNamespace.run}.
 *
 * <p>Why netlink and not sysfs: {@code /sys/class/net} shows the namespace of whoever mounted
 * sysfs, not the thread's, so from the daemon it would describe the host. rtnetlink's
 * IFLA_INFO_DATA for tun (IFLA_TUN_*, Linux 4.15, drivers/net/tun.c tun_fill_info) carries owner,
 * group, type, pi, vnet_hdr, persist and multi_queue, the same facts {@code ip -d link} prints.
 *
 * <p>Not thread-safe: one instance per task. Replies are received into one buffer per thread (the
 * netns workers are long-lived platform threads), not a fresh 64 KiB array per socket: two instances
 * used on the same thread at the same time would share it, which no caller does, since every exchange
 * completes before the method returns.
 */
public final class Netlink implements AutoCloseable {
    // <linux/netlink.h>, <linux/rtnetlink.h>, <linux/if_link.h>
    private static final int NLMSG_ERROR = 2;
    private static final int NLMSG_DONE = 3;
    private static final int RTM_NEWLINK = 16;
    private static final int RTM_DELLINK = 17;
    private static final int RTM_GETLINK = 18;
    private static final int RTM_SETLINK = 19;
    private static final int NLM_F_REQUEST = 0x1;
    private static final int NLM_F_ACK = 0x4;
    private static final int NLM_F_DUMP = 0x300;
    private static final int IFLA_IFNAME = 3;
    private static final int IFLA_MTU = 4;
    private static final int IFLA_LINKINFO = 18;
    private static final int IFLA_INFO_KIND = 1;
    private static final int IFLA_INFO_DATA = 2;
    private static final int IFLA_TUN_OWNER = 1;
    private static final int IFLA_TUN_GROUP = 2;
    private static final int IFLA_TUN_TYPE = 3;
    private static final int IFLA_TUN_PI = 4;
    private static final int IFLA_TUN_VNET_HDR = 5;
    private static final int IFLA_TUN_PERSIST = 6;
    private static final int IFLA_TUN_MULTI_QUEUE = 7;
    private static final int IFLA_TUN_NUM_QUEUES = 8;
    private static final int IFLA_TUN_NUM_DISABLED_QUEUES = 9;
    private static final int NLA_F_NESTED = 0x8000;
    private static final int IFLA_EXT_MASK = 29;
    /** IFF_UP ({@code <linux/if.h>}) and the offset of ifinfomsg.ifi_change after the 16-byte nlmsghdr. */
    private static final int IFF_UP = 0x1;
    private static final int IFI_CHANGE_OFFSET = 16 + 12;
    /**
     * Leaves IFLA_STATS/IFLA_STATS64 out of a single-link reply ({@code <linux/rtnetlink.h>}); a kernel
     * without it ignores the bit.
     */
    private static final int RTEXT_FILTER_SKIP_STATS = 1 << 3;
    /**
     * A dump reply skb is at most 32 KiB (netlink_recvmsg caps max_recvmsg_len at
     * SKB_WITH_OVERHEAD(32768), net/netlink/af_netlink.c), and one link's reply is far smaller, so
     * 32 KiB holds any single datagram; MSG_TRUNC turns a longer one into an error instead of a
     * silently cut message.
     */
    private static final int RX_BYTES = 32 * 1024;
    private static final ThreadLocal<byte[]> RX = ThreadLocal.withInitial(() -> new byte[RX_BYTES]);

    /** The key of the socket a namespace entry shares ({@link NamespaceWorkers#entryResource}). */
    private static final Object ENTRY_KEY = new Object();

    private final Fd fd;
    /** Owned by a namespace entry, which closes it when the worker leaves the netns; {@link #close} leaves it open. */
    private final boolean entryOwned;
    private int seq;

    private Netlink(Fd fd, boolean entryOwned) {
        this.fd = fd;
        this.entryOwned = entryOwned;
    }

    /** A socket of its own, in the calling thread's netns, closed by {@link #close}. */
    public static Netlink open() throws SyscallException {
        return new Netlink(socket(), false);
    }

    /**
     * The netlink socket of the current namespace entry: on a {@link NamespaceWorkers} worker inside a netns, one
     * socket per entry, opened on first use and closed when the worker leaves that netns, so the calls of one entry
     * (the taps of a PrepareNetwork and their QoS) share it and it is never used in another netns; elsewhere a
     * socket of its own ({@link #open}). Either way {@link #close} is right to call: it leaves an entry's socket
     * open. Replies are matched by sequence number, so a reply left unread by an exchange that failed midway is
     * skipped by the next one.
     */
    public static Netlink inEntry() throws IOException {
        Netlink shared = NamespaceWorkers.entryResource(ENTRY_KEY, () -> new Netlink(socket(), true),
                nl -> nl.fd.close());
        return shared != null ? shared : open();
    }

    private static Fd socket() throws SyscallException {
        return Syscalls.socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, "netlink(NETLINK_ROUTE)");
    }

    /** The socket's fd number, for tests that check which socket an entry used. */
    public int fdNumber() {
        return fd.intValue();
    }

    /**
     * An interface ioctl ({@code SIOCSIFMTU}, {@code SIOCGIFINDEX}, ...) in this socket's netns, on this socket.
     * Any socket serves: a request the protocol does not know falls through to dev_ioctl of the socket's netns
     * (net/socket.c sock_do_ioctl; netlink_ioctl answers -ENOIOCTLCMD), so a namespace entry needs no AF_INET
     * socket of its own for it. Not a netlink message: {@link #sequence()} does not count it.
     */
    public int ifreqIoctl(long request, byte[] ifreq, String name, String target) throws SyscallException {
        return Syscalls.ioctl(fd, request, ifreq, name, target);
    }

    /** The sequence number of the last message sent on this socket, one per message: tests count a call's messages. */
    public int sequence() {
        return seq;
    }

    /** The link called {@code name}, or null if there is none. */
    public LinkInfo link(String name) throws SyscallException {
        ByteBuffer req = request(RTM_GETLINK, NLM_F_REQUEST, 0);
        putAttr(req, IFLA_IFNAME, cString(name));
        putAttr(req, IFLA_EXT_MASK, le(4).putInt(RTEXT_FILTER_SKIP_STATS).array());
        req.putInt(0, req.position());
        Syscalls.send(fd, req.array(), req.position());
        return awaitLink(-1, "RTM_GETLINK", name);
    }

    /**
     * The link with this ifindex, or null if there is none: RTM_GETLINK with the index in the ifinfomsg and no name
     * (rtnl_getlink looks the index up first, net/core/rtnetlink.c).
     */
    public LinkInfo link(int ifindex) throws SyscallException {
        if (ifindex <= 0) {
            throw new IllegalArgumentException("ifindex must be > 0, got " + ifindex);
        }
        ByteBuffer req = request(RTM_GETLINK, NLM_F_REQUEST, ifindex);
        putAttr(req, IFLA_EXT_MASK, le(4).putInt(RTEXT_FILTER_SKIP_STATS).array());
        req.putInt(0, req.position());
        Syscalls.send(fd, req.array(), req.position());
        return awaitLink(-1, "RTM_GETLINK", "ifindex " + ifindex);
    }

    public List<LinkInfo> links() throws SyscallException {
        ByteBuffer req = request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 0);
        // no counters wanted: rtnl_dump_ifinfo honours IFLA_EXT_MASK in a dump too, and each link's reply shrinks
        // from ~1.5 KB to ~1.2 KB (a tap, measured), less for the kernel to fill and for us to parse
        putAttr(req, IFLA_EXT_MASK, le(4).putInt(RTEXT_FILTER_SKIP_STATS).array());
        return exchange(req, "RTM_GETLINK", "dump", true);
    }

    /** Sets the MTU of the link called {@code name} (rtnl_setlink resolves IFLA_IFNAME when the index is 0). */
    public void setMtu(String name, int mtu) throws SyscallException {
        ByteBuffer req = request(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK, 0);
        putAttr(req, IFLA_IFNAME, cString(name));
        putAttr(req, IFLA_MTU, le(4).putInt(mtu).array());
        exchange(req, "RTM_SETLINK", name + " mtu " + mtu, false);
    }

    /**
     * Sets the MTU of the link called {@code name} and returns the link as the kernel reports it
     * afterwards, or null if no link has the name: one send carrying RTM_SETLINK and RTM_GETLINK,
     * one recv (two when RTM_SETLINK fails). The kernel handles the messages of one datagram in order (netlink_rcv_skb), so the
     * reply describes the link after the change. RTM_SETLINK goes without NLM_F_ACK: success sends
     * nothing back and a failure is still reported (netlink_rcv_skb acks every error), ahead of the
     * link reply, and thrown here as RTM_SETLINK's.
     */
    public LinkInfo setMtuAndGet(String name, int mtu) throws SyscallException {
        ByteBuffer req = request(RTM_SETLINK, NLM_F_REQUEST, 0);
        putAttr(req, IFLA_IFNAME, cString(name));
        putAttr(req, IFLA_MTU, le(4).putInt(mtu).array());
        int setSeq = seq;
        req.putInt(0, req.position());
        int getStart = req.position();
        req.putInt(0).putShort((short) RTM_GETLINK).putShort((short) NLM_F_REQUEST).putInt(++seq).putInt(0);
        req.put((byte) 0).put((byte) 0).putShort((short) 0).putInt(0).putInt(0).putInt(0);
        putAttr(req, IFLA_IFNAME, cString(name));
        putAttr(req, IFLA_EXT_MASK, le(4).putInt(RTEXT_FILTER_SKIP_STATS).array());
        req.putInt(getStart, req.position() - getStart);
        Syscalls.send(fd, req.array(), req.position());
        return awaitLink(setSeq, "RTM_SETLINK+RTM_GETLINK", name + " mtu " + mtu);
    }

    /**
     * Reads replies until the one to the RTM_GETLINK with the current sequence number: the link, or
     * null for ENODEV (a plain answer here, so no exception is built for it). An error for
     * {@code setSeq} (a request sent ahead in the same datagram, -1 for none) is thrown, except ENODEV,
     * which the RTM_GETLINK's own ENODEV follows.
     */
    private LinkInfo awaitLink(int setSeq, String op, String target) throws SyscallException {
        LinkInfo[] link = new LinkInfo[1];
        boolean[] answered = new boolean[1];
        while (!answered[0]) {
            readDatagram(op, target, (b, off, mlen, mtype, mseq) -> {
                if (mtype == NLMSG_ERROR && (mseq == setSeq || mseq == seq)) {
                    int err = b.getInt(off + 16);
                    if (-err == Errno.ENODEV.intValue()) {
                        // for the RTM_SETLINK: no such link, and RTM_GETLINK's own ENODEV follows as the answer
                        answered[0] = mseq == seq;
                    } else if (err != 0) {
                        throw new SyscallException(mseq == setSeq ? "netlink(RTM_SETLINK)" : "netlink(RTM_GETLINK)",
                                -err, target);
                    }
                } else if (mtype == RTM_NEWLINK && mseq == seq) {
                    link[0] = parseLink(b, off + 16, off + mlen);
                    answered[0] = true;
                }
                return answered[0];
            });
        }
        return link[0];
    }

    /** One message of a datagram: its header fields; {@code off} is where its nlmsghdr starts. */
    @FunctionalInterface
    private interface MessageVisitor {
        /** @return true to stop at this message */
        boolean visit(ByteBuffer b, int off, int mlen, int mtype, int mseq) throws SyscallException;
    }

    /** Receives one datagram and hands its messages, in order, to {@code visitor} until it asks to stop. */
    private void readDatagram(String op, String target, MessageVisitor visitor) throws SyscallException {
        byte[] rx = RX.get();
        int n = receive(rx, op, target);
        ByteBuffer b = ByteBuffer.wrap(rx, 0, n).order(ByteOrder.nativeOrder());
        for (int off = 0; off + 16 <= n; ) {
            int mlen = checkedLength(b, off, n, op, target);
            if (visitor.visit(b, off, mlen, b.getShort(off + 4) & 0xffff, b.getInt(off + 8))) {
                return;
            }
            off += align(mlen);
        }
    }

    /** The answer of {@link #linkAndDump}: the link (null if none has the name) and the dump's reply payloads. */
    public record LinkAndDump(LinkInfo link, List<byte[]> dump) {}

    /**
     * RTM_GETLINK for {@code name} and one dump request of another rtnetlink type ({@code body}: everything after
     * the nlmsghdr) in one send, then the reads of both answers: one exchange where two would cost another
     * send and wake-up. The look-up goes first because it is answered at once; a dump must be the last
     * request of a datagram, since a second dump on the socket is refused (EBUSY) while one is unfinished
     * (netlink_dump_start, net/netlink/af_netlink.c). An error answer to either is thrown, except ENODEV for the
     * look-up, which is a null link.
     */
    public LinkAndDump linkAndDump(String name, int dumpType, byte[] body, int replyType, String op, String target)
            throws SyscallException {
        ByteBuffer req = le(512 + body.length);
        putHeader(req, RTM_GETLINK, NLM_F_REQUEST, 0);
        putAttr(req, IFLA_IFNAME, cString(name));
        putAttr(req, IFLA_EXT_MASK, le(4).putInt(RTEXT_FILTER_SKIP_STATS).array());
        req.putInt(0, req.position());
        int getSeq = seq;
        int dumpStart = req.position();
        req.putInt(0).putShort((short) dumpType).putShort((short) (NLM_F_REQUEST | NLM_F_DUMP)).putInt(++seq)
                .putInt(0).put(body);
        req.putInt(dumpStart, req.position() - dumpStart);
        int dumpSeq = seq;
        Syscalls.send(fd, req.array(), req.position());
        LinkInfo[] link = new LinkInfo[1];
        boolean[] done = new boolean[2]; // the look-up answered, the dump finished
        List<byte[]> dump = new ArrayList<>();
        String what = "RTM_GETLINK+" + op;
        while (!done[0] || !done[1]) {
            readDatagram(what, target, (b, off, mlen, mtype, mseq) -> {
                if (mseq == getSeq && !done[0]) {
                    if (mtype == NLMSG_ERROR) {
                        int err = -b.getInt(off + 16);
                        if (err != 0 && err != Errno.ENODEV.intValue()) {
                            throw new SyscallException("netlink(RTM_GETLINK)", err, name);
                        }
                        done[0] = true;
                    } else if (mtype == RTM_NEWLINK) {
                        link[0] = parseLink(b, off + 16, off + mlen);
                        done[0] = true;
                    }
                } else if (mseq == dumpSeq && !done[1]) {
                    if (mtype == NLMSG_ERROR) {
                        int err = -b.getInt(off + 16);
                        if (err != 0) {
                            throw new SyscallException("netlink(" + op + ")", err, target);
                        }
                        done[1] = true;
                    } else if (mtype == NLMSG_DONE) {
                        done[1] = true;
                    } else if (mtype == replyType) {
                        byte[] payload = new byte[mlen - 16];
                        b.get(off + 16, payload);
                        dump.add(payload);
                    }
                }
                return false;
            });
        }
        return new LinkAndDump(link[0], dump);
    }

    /** Deletes the link; returns false if it was already gone. */
    public boolean delete(LinkInfo link) throws SyscallException {
        ByteBuffer req = request(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, link.index());
        try {
            exchange(req, "RTM_DELLINK", link.name(), false);
            return true;
        } catch (SyscallException e) {
            if (e.errno() == Errno.ENODEV) {
                return false;
            }
            throw e;
        }
    }

    @Override
    public void close() {
        if (!entryOwned) {
            fd.close();
        }
    }

    // ---- wire format -------------------------------------------------------------------------

    private ByteBuffer request(int type, int flags, int ifindex) {
        ByteBuffer b = le(512);
        putHeader(b, type, flags, ifindex);
        return b;
    }

    /** An nlmsghdr (its length left 0 for the caller to fill in) and an ifinfomsg for {@code ifindex}. */
    private void putHeader(ByteBuffer b, int type, int flags, int ifindex) {
        b.putInt(0).putShort((short) type).putShort((short) flags).putInt(++seq).putInt(0); // nlmsghdr
        b.put((byte) 0).put((byte) 0).putShort((short) 0).putInt(ifindex).putInt(0).putInt(0); // ifinfomsg
    }

    private static void putAttr(ByteBuffer b, int type, byte[] payload) {
        b.putShort((short) (4 + payload.length)).putShort((short) type).put(payload);
        while (b.position() % 4 != 0) {
            b.put((byte) 0);
        }
    }

    private List<LinkInfo> exchange(ByteBuffer req, String op, String target, boolean dump) throws SyscallException {
        return exchange(req, op, target, dump, RTM_NEWLINK, Netlink::parseLink);
    }

    /** Decodes one reply message; {@code start} is the first byte after the nlmsghdr. */
    @FunctionalInterface
    private interface Parser<T> {
        T parse(ByteBuffer b, int start, int end);
    }

    /**
     * Sends one request and collects the replies of {@code replyType} (any type when negative) up to
     * the ACK or NLMSG_DONE; without {@code dump} the first reply ends the exchange.
     */
    private <T> List<T> exchange(ByteBuffer req, String op, String target, boolean dump, int replyType,
                                 Parser<T> parser) throws SyscallException {
        int len = req.position();
        req.putInt(0, len);
        Syscalls.send(fd, req.array(), len);
        int mySeq = seq;
        List<T> out = new ArrayList<>();
        while (true) {
            byte[] rx = RX.get();
            int n = receive(rx, op, target);
            ByteBuffer b = ByteBuffer.wrap(rx, 0, n).order(ByteOrder.nativeOrder());
            int off = 0;
            while (off + 16 <= n) {
                int mlen = checkedLength(b, off, n, op, target);
                int mtype = b.getShort(off + 4) & 0xffff;
                int mseq = b.getInt(off + 8);
                if (mseq == mySeq) {
                    if (mtype == NLMSG_ERROR) {
                        int err = b.getInt(off + 16);
                        if (err != 0) {
                            throw new SyscallException("netlink(" + op + ")", -err, target);
                        }
                        return out; // the ACK
                    }
                    if (mtype == NLMSG_DONE) {
                        return out;
                    }
                    if (replyType < 0 || mtype == replyType) {
                        out.add(parser.parse(b, off + 16, off + mlen));
                        if (!dump) {
                            return out;
                        }
                    }
                }
                off += align(mlen);
            }
        }
    }

    /**
     * One request of any rtnetlink type: {@code body} is everything after the nlmsghdr (family header
     * and attributes). Returns the payloads (after the nlmsghdr) of the replies of {@code replyType}, up
     * to the ACK or, for NLM_F_DUMP, NLMSG_DONE. An error reply is a {@link SyscallException} naming
     * {@code op} and {@code target}. This is how tc objects (qdiscs, filters) travel over the same socket.
     */
    public List<byte[]> transact(int type, int flags, byte[] body, int replyType, String op, String target)
            throws SyscallException {
        ByteBuffer req = le(16 + body.length);
        req.putInt(0).putShort((short) type).putShort((short) flags).putInt(++seq).putInt(0).put(body);
        return exchange(req, op, target, (flags & NLM_F_DUMP) == NLM_F_DUMP, replyType, (b, start, end) -> {
            byte[] payload = new byte[end - start];
            b.get(start, payload);
            return payload;
        });
    }

    /** One datagram into {@code rx}; a datagram longer than the buffer is an error, never cut short. */
    private int receive(byte[] rx, String op, String target) throws SyscallException {
        int n = Syscalls.recv(fd, rx, MSG_TRUNC);
        if (n > rx.length) {
            throw new SyscallException("recv", Errno.EMSGSIZE.intValue(), "netlink " + op + " " + target,
                    "reply of " + n + " bytes exceeds the " + rx.length + "-byte receive buffer");
        }
        return n;
    }

    private static int checkedLength(ByteBuffer b, int off, int n, String op, String target) throws SyscallException {
        int mlen = b.getInt(off);
        if (mlen < 16 || off + mlen > n) {
            throw new SyscallException("recv", Errno.EBADMSG.intValue(), "netlink " + op + " " + target,
                    "malformed netlink message of length " + mlen);
        }
        return mlen;
    }

    private static LinkInfo parseLink(ByteBuffer b, int start, int end) {
        int arpType = b.getShort(start + 2) & 0xffff;
        int index = b.getInt(start + 4);
        int flags = b.getInt(start + 8);
        String name = null;
        String kind = null;
        int mtu = 0;
        int tunType = 0;
        boolean pi = false;
        boolean vnet = false;
        boolean persist = false;
        boolean mq = false;
        long owner = -1;
        long group = -1;
        int queues = 0;
        int disabled = 0;
        for (int a = start + 16; a + 4 <= end; ) {
            int alen = b.getShort(a) & 0xffff;
            int atype = b.getShort(a + 2) & 0xffff & ~NLA_F_NESTED;
            if (alen < 4 || a + alen > end) {
                break;
            }
            if (atype == IFLA_IFNAME) {
                name = cStringAt(b, a + 4, alen - 4);
            } else if (atype == IFLA_MTU) {
                mtu = b.getInt(a + 4);
            } else if (atype == IFLA_LINKINFO) {
                for (int i = a + 4; i + 4 <= a + alen; ) {
                    int ilen = b.getShort(i) & 0xffff;
                    int itype = b.getShort(i + 2) & 0xffff & ~NLA_F_NESTED;
                    if (ilen < 4) {
                        break;
                    }
                    if (itype == IFLA_INFO_KIND) {
                        kind = cStringAt(b, i + 4, ilen - 4);
                    } else if (itype == IFLA_INFO_DATA && "tun".equals(kind)) {
                        for (int d = i + 4; d + 4 <= i + ilen; ) {
                            int dlen = b.getShort(d) & 0xffff;
                            int dtype = b.getShort(d + 2) & 0xffff;
                            if (dlen < 4) {
                                break;
                            }
                            int p = d + 4;
                            switch (dtype) {
                                case IFLA_TUN_OWNER -> owner = b.getInt(p) & 0xffffffffL;
                                case IFLA_TUN_GROUP -> group = b.getInt(p) & 0xffffffffL;
                                case IFLA_TUN_TYPE -> tunType = b.get(p);
                                case IFLA_TUN_PI -> pi = b.get(p) != 0;
                                case IFLA_TUN_VNET_HDR -> vnet = b.get(p) != 0;
                                case IFLA_TUN_PERSIST -> persist = b.get(p) != 0;
                                case IFLA_TUN_MULTI_QUEUE -> mq = b.get(p) != 0;
                                case IFLA_TUN_NUM_QUEUES -> queues = b.getInt(p);
                                case IFLA_TUN_NUM_DISABLED_QUEUES -> disabled = b.getInt(p);
                                default -> { }
                            }
                            d += align(dlen);
                        }
                    }
                    i += align(ilen);
                }
            }
            a += align(alen);
        }
        return new LinkInfo(index, name, mtu, flags, arpType, kind, tunType, pi, vnet, persist, mq,
                owner, group, queues, disabled);
    }

    private static int align(int n) {
        return (n + 3) & ~3;
    }

    private static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.nativeOrder());
    }

    private static byte[] cString(String s) {
        byte[] raw = s.getBytes(StandardCharsets.UTF_8);
        byte[] z = new byte[raw.length + 1];
        System.arraycopy(raw, 0, z, 0, raw.length);
        return z;
    }

    private static String cStringAt(ByteBuffer b, int off, int max) {
        int len = 0;
        while (len < max && b.get(off + len) != 0) {
            len++;
        }
        byte[] s = new byte[len];
        b.get(off, s);
        return new String(s, StandardCharsets.UTF_8);
    }
}
