package io.vmhandler.nativeio;

import java.util.BitSet;
import java.util.StringJoiner;

/** Conversions between a {@link BitSet} of CPU numbers, a kernel cpu_set_t and cpulist strings. */
public final class CpuSet {
    private CpuSet() {}

    /** CPU_SETSIZE in glibc: 1024 CPUs, 128 bytes. */
    public static final int SETSIZE_BYTES = 128;

    static byte[] toMask(BitSet cpus) {
        if (cpus.length() > SETSIZE_BYTES * 8) {
            throw new IllegalArgumentException("cpu " + (cpus.length() - 1) + " exceeds CPU_SETSIZE 1024");
        }
        byte[] mask = new byte[SETSIZE_BYTES];
        for (int c = cpus.nextSetBit(0); c >= 0; c = cpus.nextSetBit(c + 1)) {
            mask[c >> 3] |= (byte) (1 << (c & 7));
        }
        return mask;
    }

    static BitSet fromMask(byte[] mask) {
        BitSet cpus = new BitSet();
        for (int i = 0; i < mask.length * 8; i++) {
            if ((mask[i >> 3] & (1 << (i & 7))) != 0) {
                cpus.set(i);
            }
        }
        return cpus;
    }

    /**
     * Parses the kernel's cpulist format ({@code 0-3,8,10-11}), as found in cpuset.cpus and
     * /sys/devices/system/cpu/online. An empty or blank string is the empty set.
     */
    public static BitSet parseList(String list) {
        BitSet cpus = new BitSet();
        String s = list == null ? "" : list.trim();
        if (s.isEmpty()) {
            return cpus;
        }
        for (String part : s.split(",")) {
            String p = part.trim();
            try {
                int dash = p.indexOf('-');
                if (dash < 0) {
                    cpus.set(checkCpu(Integer.parseInt(p), list));
                } else {
                    int lo = checkCpu(Integer.parseInt(p.substring(0, dash)), list);
                    int hi = checkCpu(Integer.parseInt(p.substring(dash + 1)), list);
                    if (hi < lo) {
                        throw new IllegalArgumentException("cpu list '" + list + "': range " + p + " is reversed");
                    }
                    cpus.set(lo, hi + 1);
                }
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("cpu list '" + list + "': '" + p + "' is not a cpu number or range");
            }
        }
        return cpus;
    }

    private static int checkCpu(int c, String list) {
        if (c < 0 || c >= SETSIZE_BYTES * 8) {
            throw new IllegalArgumentException("cpu list '" + list + "': cpu " + c + " is outside 0..1023");
        }
        return c;
    }

    /** Formats as a cpulist with ranges, e.g. {@code 0-3,8}. */
    public static String formatList(BitSet cpus) {
        StringJoiner j = new StringJoiner(",");
        int c = cpus.nextSetBit(0);
        while (c >= 0) {
            int end = cpus.nextClearBit(c) - 1;
            j.add(end == c ? Integer.toString(c) : c + "-" + end);
            c = cpus.nextSetBit(end + 1);
        }
        return j.toString();
    }
}
