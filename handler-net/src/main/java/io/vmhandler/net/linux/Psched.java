package io.vmhandler.net.linux;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The packet scheduler's time unit, read from {@code /proc/net/psched} the way iproute2 does
 * (tc/tc_core.c {@code tc_core_init}), so that the tick values we put into tc_tbf_qopt.buffer and into
 * the rate table mean the same to the kernel as the ones {@code tc} writes.
 *
 * <p>Why read it instead of hard-coding 64 ns: the kernel expresses "buffer" (burst) fields in
 * scheduler ticks, PSCHED_TICKS2NS(x) = x &lt;&lt; PSCHED_SHIFT (include/net/pkt_sched.h), and
 * publishes the conversion in /proc/net/psched (net/sched/sch_api.c {@code psched_show}: NSEC_PER_USEC,
 * PSCHED_TICKS2NS(1), 1000000, NSEC_PER_SEC / hrtimer_resolution). Reading the file keeps us right if
 * the shift ever changes, exactly as tc would be. With the usual "000003e8 00000040 000f4240 ..." a
 * tick is 64 ns and there are 15.625 ticks per microsecond.
 *
 * @param tickInUsec scheduler ticks per microsecond (iproute2's {@code tick_in_usec})
 */
public record Psched(double tickInUsec) {
    /** iproute2's TIME_UNITS_PER_SEC: tc computes times in microseconds. */
    public static final double USEC_PER_SEC = 1_000_000.0;
    /** The largest value of the kernel's 32-bit tick fields (tc_tbf_qopt.buffer, tc_police.burst). */
    public static final long MAX_TICKS = 0xFFFF_FFFFL;

    public Psched {
        if (!(tickInUsec > 0) || Double.isInfinite(tickInUsec)) {
            throw new IllegalArgumentException("ticks per microsecond must be > 0, got " + tickInUsec);
        }
    }

    /** Reads {@code /proc/net/psched}; the values are the same in every network namespace. */
    public static Psched system() throws IOException {
        return parse(Files.readString(Path.of("/proc/net/psched")));
    }

    /**
     * Parses the first three hex words like tc_core_init: t2us, us2t, clock_res. A clock_res of 10^9
     * (a kernel that reports ns resolution in the third word) makes t2us = us2t, as tc does.
     */
    public static Psched parse(String text) {
        String[] w = text.trim().split("\\s+");
        if (w.length < 3) {
            throw new IllegalArgumentException("/proc/net/psched must hold at least 3 hex words, got '" + text.trim() + "'");
        }
        long t2us;
        long us2t;
        long clockRes;
        try {
            t2us = Long.parseLong(w[0], 16);
            us2t = Long.parseLong(w[1], 16);
            clockRes = Long.parseLong(w[2], 16);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("/proc/net/psched is not hex: '" + text.trim() + "'");
        }
        if (us2t == 0 || clockRes == 0) {
            throw new IllegalArgumentException("/proc/net/psched has a zero divisor: '" + text.trim() + "'");
        }
        if (clockRes == 1_000_000_000L) {
            t2us = us2t;
        }
        double clockFactor = clockRes / USEC_PER_SEC;
        return new Psched((double) t2us / us2t * clockFactor);
    }

    /** Microseconds to ticks, truncated like tc's unsigned conversion in tc_core_time2tick. */
    public long usecToTicks(double usec) {
        return (long) (usec * tickInUsec);
    }

    public double ticksToUsec(long ticks) {
        return ticks / tickInUsec;
    }

    /**
     * The ticks {@code bytes} take at {@code rateBytesPerSec}, without intermediate rounding. This is
     * what the kernel computes from TCA_TBF_BURST (psched_l2t_ns, then ns &gt;&gt; PSCHED_SHIFT when it
     * reports the bucket), so it is what a read-back is compared with.
     */
    public long transmitTicks(long rateBytesPerSec, long bytes) {
        // multiply before dividing: 65536 B at 1.25 MB/s is exactly 819200 ticks, not 819199.99
        return (long) ((double) bytes * USEC_PER_SEC * tickInUsec / rateBytesPerSec);
    }

    /**
     * iproute2's tc_calc_xmittime exactly: tc_core_time2tick takes an unsigned int, so the time is
     * truncated to whole microseconds before it becomes ticks. Used for the rate table, whose entries
     * must be the ones tc would write.
     */
    public long tcTransmitTicks(long rateBytesPerSec, long bytes) {
        long usec = (long) (USEC_PER_SEC * ((double) bytes / (double) rateBytesPerSec));
        return usecToTicks(usec);
    }

    /**
     * iproute2's tc_calc_xmitsize, how {@code tc} prints a TBF's "burst": tc_core_tick2time returns
     * whole microseconds, and the bytes are rate × that time.
     */
    public long tcTransmitSize(long rateBytesPerSec, long ticks) {
        long usec = (long) ticksToUsec(ticks);
        return (long) ((double) rateBytesPerSec * usec / USEC_PER_SEC);
    }

    /** The bytes sent in {@code ticks} at {@code rateBytesPerSec}, without intermediate rounding. */
    public long transmitSize(long rateBytesPerSec, long ticks) {
        return (long) ((double) rateBytesPerSec * ticksToUsec(ticks) / USEC_PER_SEC);
    }

    /** The longest time, in seconds, a 32-bit tick field can hold (about 274.9 s with 64 ns ticks). */
    public double maxTickSeconds() {
        return ticksToUsec(MAX_TICKS) / USEC_PER_SEC;
    }
}
