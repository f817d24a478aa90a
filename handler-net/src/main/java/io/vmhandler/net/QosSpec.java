package io.vmhandler.net;

/**
 * The limits wanted on one tap. A null direction is unlimited: no qdisc of ours for it.
 *
 * @param towardsGuest traffic the tap transmits, i.e. frames on their way to the guest: shaped by a
 *                     TBF root qdisc on the tap. The pod annotation {@code kubernetes.io/ingress-bandwidth}.
 */
public record QosSpec(RateLimit towardsGuest) {
    public static final QosSpec UNLIMITED = new QosSpec(null);

    public boolean unlimited() {
        return towardsGuest == null;
    }
}
