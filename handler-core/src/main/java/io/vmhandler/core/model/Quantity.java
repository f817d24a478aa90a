package io.vmhandler.core.model;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Kubernetes resource quantity ({@code 2Gi}, {@code 512M}, {@code 1.5G}, {@code 1e9},
 * {@code 1073741824}) held as an exact decimal number of base units (bytes, for memory).
 *
 * <p>The grammar is the one of k8s.io/apimachinery {@code resource.Quantity}: a number with an
 * optional fraction, then a binary suffix (Ki Mi Gi Ti Pi Ei = 2^10..2^60), a decimal suffix
 * (n u m "" k M G T P E = 10^-9..10^18) or a decimal exponent ({@code e9}, {@code E-3}). Anything
 * else ({@code 2GB}, {@code 2gi}, {@code 2 Gi}) is an unknown unit and an error that names the field.
 * {@link #bytesCeil} rounds fractional bytes up, as {@code Quantity.Value()} does.
 *
 * <p>Immutable and thread-safe.
 */
public final class Quantity implements Comparable<Quantity> {
    /** Longer text is not a quantity anyone meant; it also bounds the BigDecimal work. */
    private static final int MAX_TEXT = 64;
    /** Exponents beyond this are absurd for any resource and would make BigDecimal work hard. */
    private static final int MAX_EXPONENT = 30;
    private static final Pattern SYNTAX = Pattern.compile("([+-]?)([0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)(.*)");
    private static final Pattern EXPONENT = Pattern.compile("[eE]([+-]?[0-9]{1,9})");
    private static final Map<String, BigDecimal> SUFFIXES = Map.ofEntries(
            Map.entry("", BigDecimal.ONE),
            Map.entry("Ki", BigDecimal.valueOf(1L << 10)),
            Map.entry("Mi", BigDecimal.valueOf(1L << 20)),
            Map.entry("Gi", BigDecimal.valueOf(1L << 30)),
            Map.entry("Ti", BigDecimal.valueOf(1L << 40)),
            Map.entry("Pi", BigDecimal.valueOf(1L << 50)),
            Map.entry("Ei", BigDecimal.valueOf(1L << 60)),
            Map.entry("n", BigDecimal.ONE.scaleByPowerOfTen(-9)),
            Map.entry("u", BigDecimal.ONE.scaleByPowerOfTen(-6)),
            Map.entry("m", BigDecimal.ONE.scaleByPowerOfTen(-3)),
            Map.entry("k", BigDecimal.ONE.scaleByPowerOfTen(3)),
            Map.entry("M", BigDecimal.ONE.scaleByPowerOfTen(6)),
            Map.entry("G", BigDecimal.ONE.scaleByPowerOfTen(9)),
            Map.entry("T", BigDecimal.ONE.scaleByPowerOfTen(12)),
            Map.entry("P", BigDecimal.ONE.scaleByPowerOfTen(15)),
            Map.entry("E", BigDecimal.ONE.scaleByPowerOfTen(18)));
    private static final String UNITS_HELP =
            "use Ki, Mi, Gi, Ti, Pi, Ei (powers of 1024), k, M, G, T, P, E (powers of 1000), m, u, n,"
                    + " an exponent like 1e9, or no unit for plain bytes";

    private final String text;
    private final BigDecimal value;

    private Quantity(String text, BigDecimal value) {
        this.text = text;
        this.value = value;
    }

    /**
     * Parses {@code text}; {@code field} (e.g. {@code spec.domain.memory.guest}) names the input in
     * every error. Negative quantities are refused: no resource this project reads can be negative.
     */
    public static Quantity parse(String field, String text) {
        if (text == null) {
            throw new IllegalArgumentException(field + " is missing");
        }
        String t = text.strip();
        if (t.isEmpty()) {
            throw new IllegalArgumentException(field + " is empty; expected a quantity like 2Gi");
        }
        if (t.length() > MAX_TEXT) {
            throw new IllegalArgumentException(field + " is " + t.length() + " characters long; a quantity has at most "
                    + MAX_TEXT);
        }
        Matcher m = SYNTAX.matcher(t);
        if (!m.matches()) {
            throw new IllegalArgumentException(field + " must be a quantity like 2Gi, 512M or 1.5G, got '" + t + "'");
        }
        if (m.group(1).equals("-")) {
            throw new IllegalArgumentException(field + " must not be negative, got '" + t + "'");
        }
        BigDecimal number = new BigDecimal(m.group(2));
        String suffix = m.group(3);
        BigDecimal scale = SUFFIXES.get(suffix);
        if (scale == null) {
            Matcher e = EXPONENT.matcher(suffix);
            if (!e.matches()) {
                throw new IllegalArgumentException(field + " has an unknown unit '" + suffix + "' in '" + t + "'; "
                        + UNITS_HELP);
            }
            int exp = Integer.parseInt(e.group(1));
            if (Math.abs(exp) > MAX_EXPONENT) {
                throw new IllegalArgumentException(field + " has an absurd exponent " + exp + " in '" + t
                        + "'; at most +-" + MAX_EXPONENT);
            }
            scale = BigDecimal.ONE.scaleByPowerOfTen(exp);
        }
        return new Quantity(t, number.multiply(scale));
    }

    /**
     * A quantity from a parsed YAML/JSON value: a string, or a plain number (Kubernetes accepts
     * {@code memory: 1073741824}).
     */
    public static Quantity of(String field, Object yamlValue) {
        if (yamlValue instanceof String s) {
            return parse(field, s);
        }
        if (yamlValue instanceof Integer || yamlValue instanceof Long || yamlValue instanceof Short
                || yamlValue instanceof BigInteger) {
            return parse(field, yamlValue.toString());
        }
        if (yamlValue instanceof Double d) {
            if (!Double.isFinite(d)) {
                throw new IllegalArgumentException(field + " must be a finite quantity, got " + d);
            }
            return parse(field, BigDecimal.valueOf(d).toPlainString());
        }
        if (yamlValue == null) {
            throw new IllegalArgumentException(field + " is missing");
        }
        throw new IllegalArgumentException(field + " must be a quantity like 2Gi, got " + VmiDocument.typeName(yamlValue));
    }

    /** The exact amount in base units. */
    public BigDecimal value() {
        return value;
    }

    public boolean isZero() {
        return value.signum() == 0;
    }

    /**
     * Whole base units, fractions rounded up; {@code field} names the input when it does not fit a
     * signed 64-bit count (more than 8 EiB of anything is absurd here).
     */
    public long bytesCeil(String field) {
        BigDecimal whole = value.setScale(0, RoundingMode.CEILING);
        if (whole.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
            throw new IllegalArgumentException(field + " is absurdly large: " + text + " is more than "
                    + Long.MAX_VALUE + " bytes");
        }
        return whole.longValueExact();
    }

    @Override
    public int compareTo(Quantity o) {
        return value.compareTo(o.value);
    }

    /** Equal amounts are equal, whatever the spelling ({@code 1Gi} equals {@code 1073741824}). */
    @Override
    public boolean equals(Object o) {
        return o instanceof Quantity q && value.compareTo(q.value) == 0;
    }

    @Override
    public int hashCode() {
        return value.stripTrailingZeros().hashCode();
    }

    /** The text as written. */
    @Override
    public String toString() {
        return text;
    }
}
