package io.vmhandler.net;

/**
 * What the kernel has installed on a tap, as read back over rtnetlink.
 *
 * @param tap          the tap's name
 * @param rootQdisc    the kind of the tap's root qdisc: "tbf" when limited; otherwise the kernel's
 *                     default such as "mq" or "pfifo_fast", or null while the tap is down (a down
 *                     device has only the built-in noop qdisc, which dumps do not list)
 * @param towardsGuest our TBF on the tap's root, or null when the root qdisc is not ours
 * @param fromGuest    our TBF on the ifb that the tap's ingress redirects to, or null when there is
 *                     no such redirect or the ifb has no TBF of ours
 * @param ifb          the name of the ifb the tap's ingress redirects to, or null
 */
public record QosState(String tap, String rootQdisc, Tbf towardsGuest, Tbf fromGuest, String ifb) {
    /**
     * A TBF as the kernel reports it. The kernel keeps the bucket as time, so {@code burstBytes} is
     * {@code bufferTicks} converted back at the rate the way {@code tc} prints "burst" (whole
     * microseconds): it can be below the bytes asked for by up to the bytes sent in one microsecond.
     */
    public record Tbf(long rateBytesPerSec, long burstBytes, long limitBytes, long bufferTicks) {}

    public boolean unlimited() {
        return towardsGuest == null && fromGuest == null && ifb == null;
    }
}
