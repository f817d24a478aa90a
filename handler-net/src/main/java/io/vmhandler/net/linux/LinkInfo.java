package io.vmhandler.net.linux;

/**
 * One network interface as rtnetlink reports it (what {@code ip -d link} prints). Tun fields are
 * meaningful only when {@link #kind()} is {@code tun}; owner and group are -1 when unset.
 *
 * @param tunType IFF_TUN (1) or IFF_TAP (2), 0 when not a tun device
 */
public record LinkInfo(int index, String name, int mtu, int flags, int arpType, String kind,
                       int tunType, boolean pi, boolean vnetHdr, boolean persist, boolean multiQueue,
                       long owner, long group, int numQueues, int numDisabledQueues) {
    public static final int IFF_UP = 0x1;
    public static final int IFF_LOOPBACK = 0x8;

    public boolean isTun() {
        return "tun".equals(kind);
    }

    public boolean isTap() {
        return isTun() && tunType == 2;
    }

    public boolean isLoopback() {
        return (flags & IFF_LOOPBACK) != 0;
    }

    public boolean isUp() {
        return (flags & IFF_UP) != 0;
    }
}
