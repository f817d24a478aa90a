package io.vmhandler.net;

import io.vmhandler.net.linux.Psched;
import io.vmhandler.net.linux.TcMessages;

/**
 * A {@link RateLimit} turned into the exact TBF the kernel will get, with every kernel limit checked
 * first, so a value the kernel would truncate or refuse is rejected before any netlink write. Each
 * message names the field (an annotation name, or the API field) and the limit.
 *
 * <p>The queue in front of the bucket is sized like the CNI bandwidth plugin and {@code tc tbf
 * latency}: limit = rate × 25 ms + burst (containernetworking/plugins, plugins/meta/bandwidth,
 * {@code latencyInMillis = 25} and {@code limit()}; iproute2 tc/q_tbf.c).
 */
final class TbfPlan {
    /** The CNI bandwidth plugin's queueing latency. */
    static final long LATENCY_USEC = 25_000;
    /** Ethernet header (ETH_HLEN): a frame on the tap is its MTU plus this. */
    static final int ETH_HLEN = 14;
    static final long U32_MAX = 0xFFFF_FFFFL;

    private final TcMessages.Tbf tbf;

    private TbfPlan(TcMessages.Tbf tbf) {
        this.tbf = tbf;
    }

    TcMessages.Tbf tbf() {
        return tbf;
    }

    /**
     * Checks {@code limit} against the kernel's field widths:
     * <ul>
     *   <li>burst &lt;= 2^32 - 1 bytes: TCA_TBF_BURST is a u32 (the CNI plugin's "burst cannot be more
     *       than 4GB");</li>
     *   <li>burst / rate &lt;= 2^32 - 1 ticks (about 274.9 s): tc_tbf_qopt.buffer is a u32 in scheduler
     *       ticks, and the kernel reports the bucket back only through it;</li>
     *   <li>rate × 25 ms + burst &lt;= 2^32 - 1 bytes: tc_tbf_qopt.limit is a u32.</li>
     * </ul>
     */
    static TbfPlan of(String field, RateLimit limit, Psched psched) {
        long rate = limit.rateBytesPerSec();
        long burst = limit.burstBytes();
        if (burst > U32_MAX) {
            throw new IllegalArgumentException(field + ": burst " + burst + " bytes is above " + U32_MAX
                    + " bytes, the largest TCA_TBF_BURST (a 32-bit field)");
        }
        long ticks = psched.transmitTicks(rate, burst);
        if (ticks > Psched.MAX_TICKS) {
            throw new IllegalArgumentException(field + ": burst " + burst + " bytes at " + rate * 8
                    + " bit/s lasts " + String.format("%.1f", (double) burst / rate) + " s; the kernel keeps the"
                    + " bucket as a 32-bit count of scheduler ticks (tc_tbf_qopt.buffer), at most "
                    + String.format("%.1f", psched.maxTickSeconds()) + " s, so the burst must be <= "
                    + maxBurstBytes(rate, psched) + " bytes at this rate");
        }
        long queue = queueLimit(rate, burst);
        if (queue > U32_MAX) {
            throw new IllegalArgumentException(field + ": rate " + rate * 8 + " bit/s with burst " + burst
                    + " bytes needs a queue of " + queue + " bytes (rate x 25 ms + burst), above " + U32_MAX
                    + " bytes, the largest 32-bit tc_tbf_qopt.limit; the largest rate with this burst is "
                    + maxRateBytes(burst) * 8 + " bit/s");
        }
        return new TbfPlan(new TcMessages.Tbf(rate, queue, ticks, burst));
    }

    /** rate × latency, truncated like the CNI plugin's {@code uint32(float64(rate)*latency/1e6)}, plus the burst. */
    static long queueLimit(long rateBytesPerSec, long burstBytes) {
        return (long) ((double) rateBytesPerSec * LATENCY_USEC / Psched.USEC_PER_SEC) + burstBytes;
    }

    static long maxRateBytes(long burstBytes) {
        return (long) ((U32_MAX - burstBytes) * Psched.USEC_PER_SEC / LATENCY_USEC);
    }

    /** The largest burst whose transmit time at {@code rate} still fits the 32-bit tick field. */
    static long maxBurstBytes(long rateBytesPerSec, Psched psched) {
        long b = Math.min(U32_MAX, psched.transmitSize(rateBytesPerSec, Psched.MAX_TICKS));
        while (b > 1 && psched.transmitTicks(rateBytesPerSec, b) > Psched.MAX_TICKS) {
            b--; // floating point may overshoot by a byte or two
        }
        return b;
    }

    /**
     * A frame bigger than the bucket can never conform: sch_tbf drops a non-GSO packet longer than the
     * burst ({@code tbf_enqueue}: qdisc_pkt_len(skb) &gt; q-&gt;max_size). So the burst must hold one
     * full frame of the tap: MTU + Ethernet header.
     */
    void requireFrameFits(String field, String tap, int mtu) {
        long frame = (long) mtu + ETH_HLEN;
        if (tbf.burstBytes() < frame) {
            throw new IllegalArgumentException(field + ": burst " + tbf.burstBytes() + " bytes is below one frame of "
                    + tap + " (MTU " + mtu + " + " + ETH_HLEN + " = " + frame + " bytes); the kernel's TBF drops"
                    + " any frame longer than the burst");
        }
    }
}
