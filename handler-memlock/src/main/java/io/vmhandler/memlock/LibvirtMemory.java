package io.vmhandler.memlock;

import java.util.Locale;

/**
 * libvirt's parsing of memory sizes in domain XML: an unsigned integer plus a {@code unit}
 * attribute, scaled to bytes and rounded up to KiB (src/util/virutil.c {@code virScaleInteger};
 * src/conf/domain_conf.c {@code virDomainParseMemory}, {@code virDomainParseMemoryLimit}). Units are
 * case-insensitive: {@code b}/{@code byte}/{@code bytes}; {@code k m g t p e} alone or followed by
 * {@code iB} are powers of 1024; followed by {@code B} they are powers of 1000. No unit means KiB.
 */
final class LibvirtMemory {
    private LibvirtMemory() {}

    /** Memory sizes are capped at LLONG_MAX bytes (virMemoryMaxValue on 64-bit hosts). */
    private static final long MAX_BYTES = Long.MAX_VALUE;
    /** *_limit elements are capped at VIR_DOMAIN_MEMORY_PARAM_UNLIMITED KiB, in bytes. */
    private static final long MAX_LIMIT_BYTES = MemlockFormula.UNLIMITED_KIB << 10;

    /** A memory size in KiB, rounded up; {@code field} names the element in errors. */
    static long kib(String field, String value, String unit) {
        long bytes = bytes(field, value, unit, MAX_BYTES);
        long kib = ceilKiB(bytes);
        if (kib >= ceilKiB(MAX_BYTES)) {
            throw new IllegalArgumentException(field + ": size value too large: " + value + " " + unitName(unit));
        }
        return kib;
    }

    /**
     * A memtune limit in KiB, rounded up and truncated to VIR_DOMAIN_MEMORY_PARAM_UNLIMITED, which
     * means "not set" ({@code virMemoryLimitIsSet} is {@code value < UNLIMITED}).
     */
    static long limitKiB(String field, String value, String unit) {
        long bytes = bytes(field, value, unit, MAX_LIMIT_BYTES);
        return Math.min(ceilKiB(bytes), MemlockFormula.UNLIMITED_KIB);
    }

    private static long ceilKiB(long bytes) {
        return bytes / 1024 + (bytes % 1024 == 0 ? 0 : 1);
    }

    private static long bytes(String field, String value, String unit, long max) {
        String v = value == null ? "" : value.strip();
        if (v.isEmpty()) {
            throw new IllegalArgumentException(field + " is empty; expected a size such as 4194304 (KiB)");
        }
        if (v.startsWith("-")) {
            throw new IllegalArgumentException(field + " must not be negative, got '" + v + "'");
        }
        if (!v.matches("\\+?[0-9]{1,20}")) {
            throw new IllegalArgumentException(field + " must be a whole number, got '" + v + "'");
        }
        long scale = scale(field, unit);
        long bytes;
        try {
            // Long.parseLong takes a leading '+', as strtoull does (virParseScaledValue, virStrToLong_ullp)
            bytes = Math.multiplyExact(Long.parseLong(v), scale);
        } catch (NumberFormatException | ArithmeticException e) {
            bytes = -1;
        }
        if (bytes < 0 || bytes > max) {
            throw new IllegalArgumentException(field + ": value too large: " + v + " " + unitName(unit));
        }
        return bytes;
    }

    private static String unitName(String unit) {
        return unit == null || unit.isEmpty() ? "KiB" : unit;
    }

    private static long scale(String field, String unit) {
        if (unit == null || unit.isEmpty()) {
            return 1024;
        }
        String u = unit.toLowerCase(Locale.ROOT);
        if (u.equals("b") || u.equals("byte") || u.equals("bytes")) {
            return 1;
        }
        long base;
        if (u.length() == 1 || u.substring(1).equals("ib")) {
            base = 1024;
        } else if (u.length() == 2 && u.charAt(1) == 'b') {
            base = 1000;
        } else {
            throw unknown(field, unit);
        }
        int power = "kmgtpe".indexOf(u.charAt(0)) + 1;
        if (power == 0) {
            throw unknown(field, unit);
        }
        long scale = 1;
        for (int i = 0; i < power; i++) {
            scale *= base;
        }
        return scale;
    }

    private static IllegalArgumentException unknown(String field, String unit) {
        return new IllegalArgumentException(field + ": unknown unit '" + unit + "'; libvirt accepts b, bytes, KiB, MiB,"
                + " GiB, TiB, PiB, EiB (or K M G T P E), and KB MB GB TB PB EB for powers of 1000");
    }
}
