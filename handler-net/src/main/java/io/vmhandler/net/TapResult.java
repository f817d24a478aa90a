package io.vmhandler.net;

/**
 * The outcome of {@link TapDevices#create}: whether the tap was made now or an identical one was
 * adopted, and what it looks like afterwards.
 */
public record TapResult(Outcome outcome, int queues, TapState state) {
    public enum Outcome { CREATED, ADOPTED }
}
