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
    private static final double USEC_PER_SEC = 1_000_000.0;

    private TapQosFlags() {}

    /** True if either rate flag was given. */
    static boolean given(Args a) {
        return a.has(INGRESS) || a.has(EGRESS);
    }

    /**
     * The spec the flags ask for; a flag left out is that direction unlimited (the annotations'
     * meaning of an absent annotation). A bad value is a {@link UsageException} naming the flag, the
     * annotation it stands for, and the limit it breaks.
     */
    static QosSpec spec(Args a, Psched psched) {
        return new QosSpec(limit(a, INGRESS, BandwidthAnnotations.INGRESS, psched),
                limit(a, EGRESS, BandwidthAnnotations.EGRESS, psched));
    }

    private static RateLimit limit(Args a, String flag, String annotation, Psched psched) {
        String value = a.optional(flag);
        if (value == null) {
            return null;
        }
        try {
            QosSpec one = BandwidthAnnotations.parse(Map.of(annotation, value), psched);
            return annotation.equals(BandwidthAnnotations.INGRESS) ? one.towardsGuest() : one.fromGuest();
        } catch (IllegalArgumentException e) {
            throw new UsageException("--" + flag + ": " + e.getMessage());
        }
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
