package io.vmhandler.net;

import java.nio.charset.StandardCharsets;

/**
 * What a launcher needs from one tap. Validated on construction, before anything on the host is
 * touched; every message names the field and its limit.
 *
 * @param name  1..15 bytes of [A-Za-z0-9_.-] (IFNAMSIZ is 16 with the NUL), not "." or ".."
 * @param queues 1..256; IFF_MULTI_QUEUE is set only when > 1 (a tun device has at most 256 queues,
 *              MAX_TAP_QUEUES in drivers/net/tun.c)
 * @param uid owner, 0..4294967294 (-1 is "unset" in the kernel, which would let any uid attach)
 * @param gid group, same range; owner and group are always both set
 * @param mtu null for "the pod's primary interface MTU", else 68..65521
 */
public record TapSpec(String name, int queues, long uid, long gid, Integer mtu) {
    public static final int MAX_NAME_BYTES = 15;
    public static final int MAX_QUEUES = 256;
    public static final long MAX_ID = 4294967294L;
    /** ETH_MIN_MTU; tun's min_mtu. */
    public static final int MIN_MTU = 68;
    /** MAX_MTU (65535) minus the 14-byte Ethernet header of a tap (tun_net_initialize; KubeVirt #10055). */
    public static final int MAX_MTU = 65521;

    public TapSpec {
        validateName(name);
        if (queues < 1 || queues > MAX_QUEUES) {
            throw new IllegalArgumentException("queues must be in 1.." + MAX_QUEUES + ", got " + queues);
        }
        if (uid < 0 || uid > MAX_ID) {
            throw new IllegalArgumentException("uid must be in 0.." + MAX_ID + ", got " + uid);
        }
        if (gid < 0 || gid > MAX_ID) {
            throw new IllegalArgumentException("gid must be in 0.." + MAX_ID + ", got " + gid);
        }
        if (mtu != null && (mtu < MIN_MTU || mtu > MAX_MTU)) {
            throw new IllegalArgumentException("mtu must be in " + MIN_MTU + ".." + MAX_MTU + ", got " + mtu);
        }
    }

    public static void validateName(String name) {
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("tap name must be 1.." + MAX_NAME_BYTES + " bytes, got an empty name");
        }
        int bytes = name.getBytes(StandardCharsets.UTF_8).length;
        if (bytes > MAX_NAME_BYTES) {
            throw new IllegalArgumentException("tap name must be 1.." + MAX_NAME_BYTES + " bytes, got " + bytes
                    + " bytes ('" + name + "')");
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '_' || c == '.' || c == '-';
            if (!ok) {
                throw new IllegalArgumentException("tap name may contain only [A-Za-z0-9_.-], got '" + printable(name)
                        + "' with " + describe(c) + " at position " + i);
            }
        }
        if (name.equals(".") || name.equals("..")) {
            throw new IllegalArgumentException("tap name may not be '" + name + "'");
        }
    }

    private static String describe(char c) {
        return c < 0x20 || c > 0x7e ? String.format("U+%04X", (int) c) : "'" + c + "'";
    }

    static String printable(String s) {
        StringBuilder sb = new StringBuilder();
        for (char c : s.toCharArray()) {
            sb.append(c < 0x20 || c == 0x7f ? '?' : c);
        }
        return sb.toString();
    }

    /** The same tap with {@code mtu} given (validated as the constructor does). */
    public TapSpec withMtu(int mtu) {
        return new TapSpec(name, queues, uid, gid, mtu);
    }

    public boolean multiQueue() {
        return queues > 1;
    }

    /** Clamps an interface MTU into the tap's range: a pod MTU of 65535 (loopback-like) becomes 65521. */
    public static int clampMtu(int mtu) {
        return Math.max(MIN_MTU, Math.min(MAX_MTU, mtu));
    }
}
