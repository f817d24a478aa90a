package io.vmhandler.net;

/**
 * The limits wanted on one tap. A null direction is unlimited: no qdisc of ours for it.
 *
 * @param towardsGuest frames the tap transmits, on their way into the guest: shaped by a TBF root
 *                     qdisc on the tap (tap egress). The pod annotation {@code kubernetes.io/ingress-bandwidth}.
 * @param fromGuest    frames the guest writes into the tap, which the tap receives (tap ingress):
 *                     redirected from the tap's ingress qdisc to an ifb device and shaped by a TBF there.
 *                     The pod annotation {@code kubernetes.io/egress-bandwidth}.
 */
public record QosSpec(RateLimit towardsGuest, RateLimit fromGuest) {
    public static final QosSpec UNLIMITED = new QosSpec(null, null);

    public boolean unlimited() {
        return towardsGuest == null && fromGuest == null;
    }
}
