package io.vmhandler.cli;

import io.vmhandler.net.BandwidthAnnotations;
import io.vmhandler.net.QosSpec;
import io.vmhandler.net.QosState;
import io.vmhandler.net.RateLimit;
import io.vmhandler.net.linux.Psched;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The {@code --ingress RATE} / {@code --egress RATE} flags of {@code vmhandler tap qos|verify}, and
 * how a tap's QoS is printed and compared.
 *
 * <p>A flag's value is handed to {@link BandwidthAnnotations} under the annotation it stands for, so
 * the CLI accepts and refuses exactly what the daemon does for a pod: {@code --ingress} is
 * {@code kubernetes.io/ingress-bandwidth} (traffic into the pod, towards the guest, shaped on the tap's
 * transmit side), {@code --egress} is {@code kubernetes.io/egress-bandwidth} (traffic from the guest).
 * Stateless; safe from any thread.
 */
final class TapQosFlags {
    static final String INGRESS = "ingress";
    static final String EGRESS = "egress";
    static final String INGRESS_BURST = "ingress-burst";
    static final String EGRESS_BURST = "egress-burst";
    /** The value flags of both subcommands. */
    static final Set<String> FLAGS = Set.of(INGRESS, EGRESS, INGRESS_BURST, EGRESS_BURST);
    /** TCA_TBF_BURST is a u32; the kernel's other limits on a burst are checked by TapQos.apply before any write. */
    static final long MAX_BURST_BYTES = 0xFFFF_FFFFL;
    private static final double USEC_PER_SEC = 1_000_000.0;

    private TapQosFlags() {}

    /** True if either rate flag was given. */
    static boolean given(Args a) {
        return a.has(INGRESS) || a.has(EGRESS);
    }

    /**
     * The flag a {@link io.vmhandler.net.TapQos} refusal is about: the API names a direction by its
     * field ({@code towardsGuest: ...}, {@code fromGuest: ...}); null if the message names neither.
     * A refusal of a direction whose burst was given is about the burst flag, since the rate alone was
     * already checked by the annotations' parser.
     */
    static String flagOf(String apiMessage, Args a) {
        if (apiMessage == null) {
            return null;
        }
        if (apiMessage.startsWith("towardsGuest:")) {
            return a.has(INGRESS_BURST) ? INGRESS_BURST : INGRESS;
        }
        if (apiMessage.startsWith("fromGuest:")) {
            return a.has(EGRESS_BURST) ? EGRESS_BURST : EGRESS;
        }
        return null;
    }

    /**
     * The spec the flags ask for; a flag left out is that direction unlimited (the annotations'
     * meaning of an absent annotation). A bad value is a {@link UsageException} naming the flag, the
     * annotation it stands for, and the limit it breaks.
     */
    static QosSpec spec(Args a, Psched psched) {
        return new QosSpec(limit(a, INGRESS, INGRESS_BURST, BandwidthAnnotations.INGRESS, psched),
                limit(a, EGRESS, EGRESS_BURST, BandwidthAnnotations.EGRESS, psched));
    }

    private static RateLimit limit(Args a, String flag, String burstFlag, String annotation, Psched psched) {
        String value = a.optional(flag);
        if (value == null) {
            if (a.has(burstFlag)) {
                throw new UsageException("--" + burstFlag + " needs --" + flag + " (a burst without a rate is no limit)");
            }
            return null;
        }
        RateLimit limit;
        try {
            QosSpec one = BandwidthAnnotations.parse(Map.of(annotation, value), psched);
            limit = annotation.equals(BandwidthAnnotations.INGRESS) ? one.towardsGuest() : one.fromGuest();
        } catch (IllegalArgumentException e) {
            throw new UsageException("--" + flag + ": " + e.getMessage());
        }
        return a.has(burstFlag) ? new RateLimit(limit.rateBytesPerSec(), a.longValue(burstFlag, 1, MAX_BURST_BYTES))
                : limit;
    }

    /**
     * How the kernel's state differs from {@code want}: the rate exactly, the burst to within one
     * microsecond of traffic plus one byte, because the kernel keeps the bucket as time and
     * {@link QosState.Tbf#burstBytes} converts it back in whole microseconds (it may read lower).
     */
    static List<String> differences(QosSpec want, QosState found) {
        List<String> d = new ArrayList<>();
        compare(INGRESS, want.towardsGuest(), found.towardsGuest(), null, d);
        compare(EGRESS, want.fromGuest(), found.fromGuest(), found.ifb(), d);
        return d;
    }

    private static void compare(String dir, RateLimit want, QosState.Tbf got, String ifb, List<String> d) {
        if (want == null) {
            if (got != null) {
                d.add(dir + ": want unlimited, found " + tbf(got));
            } else if (ifb != null) {
                d.add(dir + ": want unlimited, found a redirect to " + ifb + " without a TBF");
            }
            return;
        }
        if (got == null) {
            d.add(dir + ": want " + limit(want) + ", found unlimited");
            return;
        }
        long slack = (long) Math.ceil(want.rateBytesPerSec() / USEC_PER_SEC) + 1;
        if (got.rateBytesPerSec() != want.rateBytesPerSec() || Math.abs(got.burstBytes() - want.burstBytes()) > slack) {
            d.add(dir + ": want " + limit(want) + ", found " + tbf(got));
        }
    }

    /** {@code ingress=10Mbit/s burst=268435455B egress=unlimited}, with the queue limits, root qdisc and ifb if {@code full}. */
    static String text(QosState s, boolean full) {
        StringBuilder b = new StringBuilder();
        if (full) {
            b.append("root=").append(s.rootQdisc() == null ? "none" : s.rootQdisc()).append(' ');
        }
        b.append(INGRESS).append('=').append(direction(s.towardsGuest(), full));
        b.append(' ').append(EGRESS).append('=').append(direction(s.fromGuest(), full));
        if (full && s.ifb() != null) {
            b.append(" ifb=").append(s.ifb());
        }
        return b.toString();
    }

    private static String direction(QosState.Tbf t, boolean full) {
        if (t == null) {
            return "unlimited";
        }
        return rate(t.rateBytesPerSec()) + " burst=" + t.burstBytes() + "B" + (full ? " limit=" + t.limitBytes() + "B" : "");
    }

    private static String limit(RateLimit r) {
        return rate(r.rateBytesPerSec()) + " burst=" + r.burstBytes() + "B";
    }

    private static String tbf(QosState.Tbf t) {
        return rate(t.rateBytesPerSec()) + " burst=" + t.burstBytes() + "B";
    }

    /** A byte rate in bit/s with the largest decimal prefix that divides it, like the annotations: 10Mbit/s. */
    static String rate(long bytesPerSec) {
        long bits = bytesPerSec * 8;
        String[] prefixes = {"", "k", "M", "G", "T", "P"};
        int i = 0;
        while (i + 1 < prefixes.length && bits % 1000 == 0) {
            bits /= 1000;
            i++;
        }
        return bits + prefixes[i] + "bit/s";
    }

    /** The state as JSON fields: root qdisc, each direction's TBF (null: unlimited), the ifb. */
    static Map<String, Object> json(QosState s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("rootQdisc", s.rootQdisc());
        m.put(INGRESS, tbfJson(s.towardsGuest()));
        m.put(EGRESS, tbfJson(s.fromGuest()));
        m.put("ifb", s.ifb());
        return m;
    }

    private static Map<String, Object> tbfJson(QosState.Tbf t) {
        if (t == null) {
            return null;
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("qdisc", "tbf");
        m.put("rateBitsPerSec", t.rateBytesPerSec() * 8);
        m.put("rateBytesPerSec", t.rateBytesPerSec());
        m.put("burstBytes", t.burstBytes());
        m.put("limitBytes", t.limitBytes());
        m.put("bufferTicks", t.bufferTicks());
        return m;
    }
}
