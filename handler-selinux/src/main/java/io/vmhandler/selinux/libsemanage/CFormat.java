package io.vmhandler.selinux.libsemanage;

import java.util.function.LongFunction;

/**
 * Renders a C printf format with integer/pointer arguments given as 64-bit words, for the messages
 * libsemanage passes to its variadic callback. Supports what libsemanage and libsepol use: flags,
 * width, precision, the length modifiers hh/h/l/ll/z/j/t, and %d %i %u %x %X %o %c %s %p %%.
 * Floating-point conversions are not used by those libraries; they print as {@code ?}.
 */
final class CFormat {
    private CFormat() {}

    /**
     * @param args the argument words in order; missing ones read as 0
     * @param strings reads a NUL-terminated string at an address (for %s)
     */
    static String format(String fmt, long[] args, LongFunction<String> strings) {
        StringBuilder out = new StringBuilder();
        int next = 0;
        int i = 0;
        while (i < fmt.length()) {
            char c = fmt.charAt(i++);
            if (c != '%') {
                out.append(c);
                continue;
            }
            if (i < fmt.length() && fmt.charAt(i) == '%') {
                out.append('%');
                i++;
                continue;
            }
            boolean left = false;
            boolean zero = false;
            while (i < fmt.length() && "-+ #0".indexOf(fmt.charAt(i)) >= 0) {
                left |= fmt.charAt(i) == '-';
                zero |= fmt.charAt(i) == '0';
                i++;
            }
            int width = 0;
            if (i < fmt.length() && fmt.charAt(i) == '*') {
                width = (int) arg(args, next++);
                i++;
            }
            while (i < fmt.length() && Character.isDigit(fmt.charAt(i))) {
                width = width * 10 + (fmt.charAt(i++) - '0');
            }
            int precision = -1;
            if (i < fmt.length() && fmt.charAt(i) == '.') {
                i++;
                precision = 0;
                if (i < fmt.length() && fmt.charAt(i) == '*') {
                    precision = (int) arg(args, next++);
                    i++;
                }
                while (i < fmt.length() && Character.isDigit(fmt.charAt(i))) {
                    precision = precision * 10 + (fmt.charAt(i++) - '0');
                }
            }
            int bits = 32;
            while (i < fmt.length() && "hlzjtL".indexOf(fmt.charAt(i)) >= 0) {
                char m = fmt.charAt(i++);
                bits = switch (m) {
                    case 'h' -> bits == 16 ? 8 : 16;
                    default -> 64;
                };
            }
            if (i >= fmt.length()) {
                break;
            }
            char conv = fmt.charAt(i++);
            String text;
            switch (conv) {
                case 'd', 'i' -> text = Long.toString(signed(arg(args, next++), bits));
                case 'u' -> text = Long.toUnsignedString(unsigned(arg(args, next++), bits));
                case 'x' -> text = Long.toHexString(unsigned(arg(args, next++), bits));
                case 'X' -> text = Long.toHexString(unsigned(arg(args, next++), bits)).toUpperCase(java.util.Locale.ROOT);
                case 'o' -> text = Long.toOctalString(unsigned(arg(args, next++), bits));
                case 'c' -> text = String.valueOf((char) (arg(args, next++) & 0xff));
                case 'p' -> text = "0x" + Long.toHexString(arg(args, next++));
                case 's' -> {
                    long p = arg(args, next++);
                    text = p == 0 ? "(null)" : strings.apply(p);
                    if (precision >= 0 && text.length() > precision) {
                        text = text.substring(0, precision);
                    }
                }
                default -> {
                    next++;
                    text = "?";
                }
            }
            if (text.length() < width) {
                String pad = (zero && !left && conv != 's' && conv != 'c' ? "0" : " ").repeat(width - text.length());
                text = left ? text + pad : pad + text;
            }
            out.append(text);
        }
        return out.toString();
    }

    private static long arg(long[] args, int n) {
        return n < args.length ? args[n] : 0;
    }

    private static long signed(long v, int bits) {
        return switch (bits) {
            case 8 -> (byte) v;
            case 16 -> (short) v;
            case 32 -> (int) v;
            default -> v;
        };
    }

    private static long unsigned(long v, int bits) {
        return bits == 64 ? v : v & ((1L << bits) - 1);
    }
}
