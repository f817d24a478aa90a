package io.vmhandler.net.linux;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The rtnetlink tc messages for a token bucket filter (TBF) root qdisc: encode the request bodies
 * (everything after the nlmsghdr) and decode qdisc dump replies. Pure byte work, no I/O, so the
 * encoding is unit-testable byte by byte.
 *
 * <p>Layouts, all host byte order as rtnetlink expects, from the kernel UAPI headers:
 * <ul>
 *   <li>struct tcmsg (include/uapi/linux/rtnetlink.h): family u8, pad u8, pad u16, ifindex s32,
 *       handle u32, parent u32, info u32 = 20 bytes; TCA_KIND = 1, TCA_OPTIONS = 2.</li>
 *   <li>struct tc_ratespec (include/uapi/linux/pkt_sched.h): cell_log u8, linklayer u8, overhead u16,
 *       cell_align s16, mpu u16, rate u32 = 12 bytes.</li>
 *   <li>struct tc_tbf_qopt (pkt_sched.h): rate, peakrate (tc_ratespec each), limit u32, buffer u32,
 *       mtu u32 = 36 bytes; TCA_TBF_PARMS = 1, TCA_TBF_RTAB = 2, TCA_TBF_RATE64 = 4,
 *       TCA_TBF_BURST = 6.</li>
 * </ul>
 * What the kernel does with them (net/sched/sch_tbf.c {@code tbf_change}): the rate comes from
 * tc_ratespec.rate, or TCA_TBF_RATE64 when present (rates of 2^32 bytes/s and more); TCA_TBF_BURST (the
 * bucket in bytes) takes precedence over tc_tbf_qopt.buffer (the bucket as transmit time in ticks);
 * limit is the byte length of the queue in front of the bucket. The dump ({@code tbf_dump}) returns
 * TCA_TBF_PARMS with the buffer as ticks (no TCA_TBF_BURST) and TCA_TBF_RATE64 for large rates.
 */
public final class TcMessages {
    // <linux/rtnetlink.h>
    public static final int RTM_NEWQDISC = 36;
    public static final int RTM_DELQDISC = 37;
    public static final int RTM_GETQDISC = 38;
    // <linux/netlink.h>
    public static final int NLM_F_REQUEST = 0x1;
    public static final int NLM_F_ACK = 0x4;
    public static final int NLM_F_REPLACE = 0x100;
    public static final int NLM_F_CREATE = 0x400;
    public static final int NLM_F_DUMP = 0x300;
    static final int TCA_KIND = 1;
    static final int TCA_OPTIONS = 2;
    // <linux/pkt_sched.h>
    public static final int TC_H_ROOT = 0xFFFF_FFFF;
    static final int TCA_TBF_PARMS = 1;
    static final int TCA_TBF_RTAB = 2;
    static final int TCA_TBF_RATE64 = 4;
    static final int TCA_TBF_BURST = 6;
    /** TC_LINKLAYER_ETHERNET: tells the kernel not to guess the link layer from the rate table. */
    static final int TC_LINKLAYER_ETHERNET = 1;
    /** TC_RTAB_SIZE: 256 u32 entries. */
    static final int RTAB_ENTRIES = 256;
    static final int TCMSG_SIZE = 20;
    static final int RATESPEC_SIZE = 12;
    static final int TBF_QOPT_SIZE = 2 * RATESPEC_SIZE + 12;
    private static final int NLA_F_NESTED = 0x8000;
    /** tc's default MTU for rate tables when none is given (tc_calc_rtable: {@code if (mtu == 0) mtu = 2047}). */
    static final int RTAB_DEFAULT_MTU = 2047;

    private TcMessages() {}

    /**
     * What we ask of a TBF.
     *
     * @param rateBytesPerSec token rate, bytes per second, &gt;= 1
     * @param limitBytes      queue length in bytes (u32)
     * @param bufferTicks     the bucket as transmit time at the rate, in scheduler ticks (u32)
     * @param burstBytes      the bucket in bytes (u32), sent as TCA_TBF_BURST
     */
    public record Tbf(long rateBytesPerSec, long limitBytes, long bufferTicks, long burstBytes) {}

    /** What the kernel reports for a TBF qdisc: rate, queue limit and the bucket in ticks. */
    public record TbfState(long rateBytesPerSec, long limitBytes, long bufferTicks) {}

    /** One qdisc from a dump; {@code tbf} is set only when the kind is "tbf". */
    public record Qdisc(int ifindex, int handle, int parent, String kind, TbfState tbf) {}

    /** RTM_NEWQDISC body: replace (or create) the root qdisc of {@code ifindex} with this TBF. */
    public static byte[] newRootTbf(int ifindex, int handle, Tbf tbf, Psched psched) {
        Buf m = new Buf();
        tcmsg(m, ifindex, handle, TC_H_ROOT);
        m.attr(TCA_KIND, cString("tbf"));
        int opts = m.nestStart(TCA_OPTIONS);
        m.attr(TCA_TBF_PARMS, tbfQopt(tbf));
        m.attr(TCA_TBF_RTAB, rateTableBytes(tbf.rateBytesPerSec(), psched));
        if (tbf.rateBytesPerSec() >= (1L << 32)) {
            m.attr(TCA_TBF_RATE64, new Buf().u64(tbf.rateBytesPerSec()).bytes());
        }
        m.attr(TCA_TBF_BURST, new Buf().u32(tbf.burstBytes()).bytes());
        m.nestEnd(opts);
        return m.bytes();
    }

    /** RTM_DELQDISC body for the root qdisc of {@code ifindex} (the kernel then re-attaches the default). */
    public static byte[] deleteRoot(int ifindex) {
        Buf m = new Buf();
        tcmsg(m, ifindex, 0, TC_H_ROOT);
        return m.bytes();
    }

    /** RTM_GETQDISC dump body; kernels may dump every device, so callers filter by ifindex. */
    public static byte[] dumpQdiscs(int ifindex) {
        Buf m = new Buf();
        tcmsg(m, ifindex, 0, 0);
        return m.bytes();
    }

    static byte[] tbfQopt(Tbf tbf) {
        Buf q = new Buf();
        long rate32 = Math.min(tbf.rateBytesPerSec(), 0xFFFF_FFFFL); // ~0U plus TCA_TBF_RATE64 above 32 bits
        ratespec(q, rateTableCellLog(), rate32);
        q.zeros(RATESPEC_SIZE); // no peak rate
        q.u32(tbf.limitBytes()).u32(tbf.bufferTicks()).u32(0); // mtu is only for the peak rate
        return q.bytes();
    }

    /** tc_ratespec as tc_calc_rtable leaves it: cell_log, Ethernet link layer, cell_align -1, mpu 0. */
    private static void ratespec(Buf b, int cellLog, long rate32) {
        b.u8(cellLog).u8(TC_LINKLAYER_ETHERNET).u16(0).u16(-1).u16(0).u32(rate32);
    }

    /** The cell_log tc_calc_rtable picks for its default MTU: the smallest with (mtu >> cell_log) &lt;= 255. */
    static int rateTableCellLog() {
        int cellLog = 0;
        while ((RTAB_DEFAULT_MTU >> cellLog) > 255) {
            cellLog++;
        }
        return cellLog;
    }

    /**
     * The 256-entry rate table, computed like iproute2's tc_calc_rtable (tc/tc_core.c) for an Ethernet
     * link layer and mpu 0: entry i is the transmit time in ticks of (i + 1) &lt;&lt; cell_log bytes at
     * the rate. Like tc, the rate used is the 32-bit tc_ratespec.rate (capped at 2^32 - 1). Entries
     * too large for a u32 (very low rates) saturate instead of wrapping. Current kernels keep the
     * table for its link-layer check only ({@code qdisc_get_rtab} / {@code __detect_linklayer}) and
     * compute transmit times from the rate, but older kernels and the legacy path need it present.
     */
    public static long[] rateTable(long rateBytesPerSec, Psched psched) {
        long rate32 = Math.min(rateBytesPerSec, 0xFFFF_FFFFL);
        int cellLog = rateTableCellLog();
        long[] t = new long[RTAB_ENTRIES];
        for (int i = 0; i < RTAB_ENTRIES; i++) {
            long size = (long) (i + 1) << cellLog;
            t[i] = Math.min(psched.tcTransmitTicks(rate32, size), Psched.MAX_TICKS);
        }
        return t;
    }

    private static byte[] rateTableBytes(long rateBytesPerSec, Psched psched) {
        Buf b = new Buf();
        for (long v : rateTable(rateBytesPerSec, psched)) {
            b.u32(v);
        }
        return b.bytes();
    }

    private static void tcmsg(Buf m, int ifindex, int handle, int parent) {
        m.u8(0).u8(0).u16(0).i32(ifindex).i32(handle).i32(parent).i32(0);
    }

    /** Decodes an RTM_NEWQDISC payload (tcmsg then attributes). */
    public static Qdisc parseQdisc(byte[] payload) {
        ByteBuffer b = ByteBuffer.wrap(payload).order(ByteOrder.nativeOrder());
        if (payload.length < TCMSG_SIZE) {
            throw new IllegalArgumentException("qdisc message of " + payload.length + " bytes is shorter than a tcmsg");
        }
        String kind = stringAttr(b, TCMSG_SIZE, payload.length, TCA_KIND);
        int opts = findAttr(b, TCMSG_SIZE, payload.length, TCA_OPTIONS);
        TbfState tbf = "tbf".equals(kind) && opts >= 0 ? parseTbfOptions(b, opts + 4, attrEnd(b, opts)) : null;
        return new Qdisc(b.getInt(4), b.getInt(8), b.getInt(12), kind, tbf);
    }

    private static TbfState parseTbfOptions(ByteBuffer b, int off, int end) {
        int parms = findAttr(b, off, end, TCA_TBF_PARMS);
        if (parms < 0 || attrLen(b, parms) - 4 < TBF_QOPT_SIZE) {
            return null;
        }
        int p = parms + 4;
        int rate64 = findAttr(b, off, end, TCA_TBF_RATE64);
        long rate = rate64 >= 0 && attrLen(b, rate64) - 4 >= 8 ? b.getLong(rate64 + 4) : b.getInt(p + 8) & 0xFFFF_FFFFL;
        return new TbfState(rate, b.getInt(p + 2 * RATESPEC_SIZE) & 0xFFFF_FFFFL,
                b.getInt(p + 2 * RATESPEC_SIZE + 4) & 0xFFFF_FFFFL);
    }

    /** nla_len of the attribute at {@code at}. */
    static int attrLen(ByteBuffer b, int at) {
        return b.getShort(at) & 0xffff;
    }

    static int attrEnd(ByteBuffer b, int at) {
        return at + attrLen(b, at);
    }

    /** The offset of the first attribute of {@code type} (nested flag ignored) in [from, to), or -1. */
    static int findAttr(ByteBuffer b, int from, int to, int type) {
        for (int a = from; a + 4 <= to; ) {
            int alen = attrLen(b, a);
            if (alen < 4 || a + alen > to) {
                return -1;
            }
            if ((b.getShort(a + 2) & 0xffff & ~NLA_F_NESTED) == type) {
                return a;
            }
            a += align(alen);
        }
        return -1;
    }

    /** The NUL-terminated string attribute of {@code type} in [from, to), or null. */
    static String stringAttr(ByteBuffer b, int from, int to, int type) {
        int a = findAttr(b, from, to, type);
        if (a < 0) {
            return null;
        }
        int n = 0;
        while (n < attrLen(b, a) - 4 && b.get(a + 4 + n) != 0) {
            n++;
        }
        byte[] str = new byte[n];
        b.get(a + 4, str);
        return new String(str, StandardCharsets.US_ASCII);
    }

    static int align(int n) {
        return (n + 3) & ~3;
    }

    private static byte[] cString(String s) {
        byte[] raw = s.getBytes(StandardCharsets.US_ASCII);
        return Arrays.copyOf(raw, raw.length + 1);
    }


    /** A growable host-order buffer with netlink attribute helpers (4-byte aligned, nested lengths). */
    static final class Buf {
        private ByteBuffer b = ByteBuffer.allocate(256).order(ByteOrder.nativeOrder());

        private Buf room(int n) {
            if (b.remaining() < n) {
                ByteBuffer bigger = ByteBuffer.allocate(Math.max(b.capacity() * 2, b.position() + n))
                        .order(ByteOrder.nativeOrder());
                b.flip();
                bigger.put(b);
                b = bigger;
            }
            return this;
        }

        Buf u8(int v) {
            room(1).b.put((byte) v);
            return this;
        }

        Buf u16(int v) {
            room(2).b.putShort((short) v);
            return this;
        }

        Buf i32(int v) {
            room(4).b.putInt(v);
            return this;
        }

        Buf u32(long v) {
            return i32((int) v);
        }

        Buf u64(long v) {
            room(8).b.putLong(v);
            return this;
        }

        Buf zeros(int n) {
            room(n).b.put(new byte[n]);
            return this;
        }

        Buf attr(int type, byte[] payload) {
            u16(4 + payload.length).u16(type);
            room(payload.length).b.put(payload);
            return pad();
        }

        int nestStart(int type) {
            int at = b.position();
            u16(0).u16(type | NLA_F_NESTED);
            return at;
        }

        void nestEnd(int at) {
            b.putShort(at, (short) (b.position() - at));
        }

        private Buf pad() {
            while (b.position() % 4 != 0) {
                u8(0);
            }
            return this;
        }

        byte[] bytes() {
            return Arrays.copyOf(b.array(), b.position());
        }
    }
}
