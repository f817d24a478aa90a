package io.vmhandler.net;

import io.vmhandler.net.linux.Psched;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The one place where pod bandwidth annotations become a {@link QosSpec}, with every check done here,
 * before anything touches a namespace.
 *
 * <p>Semantics mirrored from Kubernetes and the CNI bandwidth plugin:
 * <ul>
 *   <li>Values are Kubernetes resource quantities in bits per second ("10M" = 10,000,000 bit/s,
 *       "1Gi" = 2^30 bit/s), parsed like {@code resource.ParseQuantity} and rounded up to an integer
 *       like {@code Quantity.Value()}; kubelet refuses values below 1k and above 1P
 *       (kubernetes pkg/util/bandwidth/utils.go {@code validateBandwidthIsReasonable}).</li>
 *   <li>{@code kubernetes.io/ingress-bandwidth} limits traffic into the pod, i.e. towards the guest,
 *       which the tap transmits (TBF root qdisc on the tap). The CNI plugin limits the same direction on
 *       the host side of the pod's veth.</li>
 *   <li>{@code kubernetes.io/egress-bandwidth} limits traffic out of the pod, i.e. from the guest,
 *       which the tap receives. The CNI plugin redirects the veth's ingress to an ifb and shapes it
 *       there with a TBF; we do the same on the tap.</li>
 *   <li>The burst is not an annotation: container runtimes pass {@code math.MaxInt32} bits
 *       (2^31 - 1 bits, 268,435,455 bytes) to the plugin, "the equivalent of setting no limit"
 *       (containerd's CRI plugin, cniBandwidthEntry; kubelet's former dockershim). We use the
 *       same, capped where the kernel's 32-bit tick field cannot hold that much time at a low rate
 *       (below about 7.8 Mbit/s the burst becomes the rate × 274.9 s).</li>
 * </ul>
 */
public final class BandwidthAnnotations {
    public static final String INGRESS = "kubernetes.io/ingress-bandwidth";
    public static final String EGRESS = "kubernetes.io/egress-bandwidth";
    /** kubelet's minimum, 1k bit/s. */
    public static final long MIN_BITS = 1_000L;
    /** kubelet's maximum, 1P bit/s. */
    public static final long MAX_BITS = 1_000_000_000_000_000L;
    /** The burst container runtimes pass to the CNI bandwidth plugin: math.MaxInt32 bits. */
    public static final long DEFAULT_BURST_BITS = Integer.MAX_VALUE;
    private static final int MAX_VALUE_CHARS = 64;
    private static final int MAX_EXPONENT = 99;

    // resource.Quantity's grammar (k8s.io/apimachinery/pkg/api/resource/quantity.go): a signed decimal,
    // then a binary SI suffix, a decimal exponent, or a decimal SI suffix. The exponent comes before
    // the single letters so that "1E3" is 1000 while "1E" is 10^18.
    private static final Pattern QUANTITY = Pattern.compile(
            "([+-]?)([0-9]+\\.?[0-9]*|\\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?[0-9]+|[numkMGTPE])?");

    private BandwidthAnnotations() {}

    /** The spec the annotations ask for; absent annotations mean unlimited. */
    public static QosSpec parse(Map<String, String> annotations, Psched psched) {
        return new QosSpec(limit(annotations, INGRESS, psched), limit(annotations, EGRESS, psched));
    }

    private static RateLimit limit(Map<String, String> annotations, String name, Psched psched) {
        String value = annotations.get(name);
        if (value == null) {
            return null;
        }
        RateLimit limit = defaultLimit(parseBits(name, value), psched);
        TbfPlan.of(name + " " + value, limit, psched); // the kernel's limits, checked here as well
        return limit;
    }

    /** A rate with the runtimes' default burst, capped to what the kernel can hold at that rate. */
    static RateLimit defaultLimit(long rateBits, Psched psched) {
        long rate = rateBits / 8;
        long burst = Math.min(DEFAULT_BURST_BITS / 8, TbfPlan.maxBurstBytes(rate, psched));
        return new RateLimit(rate, burst);
    }

    /** Parses one annotation value into bit/s; {@code name} is the annotation, for the messages. */
    public static long parseBits(String name, String value) {
        if (value == null || value.isEmpty()) {
            throw new IllegalArgumentException(name + ": empty value; want a quantity in bit/s such as 10M or 1G");
        }
        if (value.length() > MAX_VALUE_CHARS) {
            throw new IllegalArgumentException(name + ": value of " + value.length() + " characters is longer than "
                    + MAX_VALUE_CHARS);
        }
        Matcher m = QUANTITY.matcher(value);
        if (!m.matches()) {
            throw new IllegalArgumentException(name + ": '" + TapSpec.printable(value) + "' is not a quantity; want a number"
                    + " with an optional suffix (k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or e<exponent>), in bit/s,"
                    + " such as 10M");
        }
        BigDecimal number = new BigDecimal(m.group(2));
        if ("-".equals(m.group(1))) {
            number = number.negate();
        }
        BigDecimal bits = number.multiply(multiplier(name, value, m.group(3)));
        if (bits.signum() < 0) {
            throw new IllegalArgumentException(name + ": " + value + " is negative; a bandwidth must be > 0");
        }
        if (bits.signum() == 0) {
            throw new IllegalArgumentException(name + ": " + value + " is zero; leave the annotation out for no limit");
        }
        if (bits.compareTo(BigDecimal.valueOf(MAX_BITS)) > 0) {
            throw new IllegalArgumentException(name + ": " + value + " is above 1P bit/s, kubelet's maximum");
        }
        long whole = bits.setScale(0, RoundingMode.CEILING).longValueExact(); // Quantity.Value() rounds up
        if (whole < MIN_BITS) {
            throw new IllegalArgumentException(name + ": " + value + " is below 1k bit/s, kubelet's minimum");
        }
        return whole;
    }

    private static BigDecimal multiplier(String name, String value, String suffix) {
        if (suffix == null) {
            return BigDecimal.ONE;
        }
        return switch (suffix) {
            case "n" -> BigDecimal.ONE.scaleByPowerOfTen(-9);
            case "u" -> BigDecimal.ONE.scaleByPowerOfTen(-6);
            case "m" -> BigDecimal.ONE.scaleByPowerOfTen(-3);
            case "k" -> BigDecimal.ONE.scaleByPowerOfTen(3);
            case "M" -> BigDecimal.ONE.scaleByPowerOfTen(6);
            case "G" -> BigDecimal.ONE.scaleByPowerOfTen(9);
            case "T" -> BigDecimal.ONE.scaleByPowerOfTen(12);
            case "P" -> BigDecimal.ONE.scaleByPowerOfTen(15);
            case "E" -> BigDecimal.ONE.scaleByPowerOfTen(18);
            case "Ki" -> BigDecimal.valueOf(1L << 10);
            case "Mi" -> BigDecimal.valueOf(1L << 20);
            case "Gi" -> BigDecimal.valueOf(1L << 30);
            case "Ti" -> BigDecimal.valueOf(1L << 40);
            case "Pi" -> BigDecimal.valueOf(1L << 50);
            case "Ei" -> BigDecimal.valueOf(1L << 60);
            default -> {
                int exp;
                try {
                    exp = Integer.parseInt(suffix.substring(1));
                } catch (NumberFormatException e) {
                    exp = Integer.MAX_VALUE;
                }
                if (Math.abs(exp) > MAX_EXPONENT) {
                    throw new IllegalArgumentException(name + ": exponent in " + value + " is outside -"
                            + MAX_EXPONENT + ".." + MAX_EXPONENT);
                }
                yield BigDecimal.ONE.scaleByPowerOfTen(exp);
            }
        };
    }
}
