package io.vmhandler.net;

/**
 * The outcome of {@link TapDevices#create}: whether the tap was made now or an identical one was
 * adopted, and what it looks like afterwards.
 *
 * @param ifindex the tap's ifindex in its namespace as the same namespace entry read it, or 0 when the
 *     implementation does not know it (the in-memory fakes). Work that follows in the same entry can address the tap
 *     by it instead of looking the name up again ({@link TapQos#remove(io.vmhandler.nativeio.Fd, String, int)}).
 */
public record TapResult(Outcome outcome, int queues, TapState state, int ifindex) {
    public enum Outcome { CREATED, ADOPTED }

    /** A result without the ifindex. */
    public TapResult(Outcome outcome, int queues, TapState state) {
        this(outcome, queues, state, 0);
    }
}
