package io.vmhandler.grpc.server;

import io.vmhandler.grpc.CallerIdentity;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The calls in flight per caller (SO_PEERCRED uid + pid), capped, so one launcher cannot occupy the worker pool
 * the other launchers share. {@link ApiPipeline} takes a slot before a call starts and frees it once when the call
 * ends. Thread-safe and lock-free: a caller's counter is removed when it drops to zero.
 */
public final class PerCallerLimit {
    /** A caller's claim on one of its slots; freed with {@link #release}. */
    record Slot(int uid, int pid) {}

    private final int maxPerCaller;
    private final ConcurrentHashMap<Slot, Integer> inFlight = new ConcurrentHashMap<>();

    public PerCallerLimit(int maxPerCaller) {
        if (maxPerCaller < 1) {
            throw new IllegalArgumentException("maxConcurrentCallsPerCaller: must be >= 1, got " + maxPerCaller);
        }
        this.maxPerCaller = maxPerCaller;
    }

    /** The cap on calls in flight per caller. */
    public int max() {
        return maxPerCaller;
    }

    /** Calls in flight for this caller (for tests and metrics). */
    public int inFlight(CallerIdentity caller) {
        return inFlight.getOrDefault(new Slot(caller.uid(), caller.pid()), 0);
    }

    /**
     * Takes one of the caller's slots, or returns null when it already has {@link #max()} calls in flight.
     * Compare-and-set on the caller's count instead of {@code compute}: no lambda, no lock on the map's bin
     * (this runs on the event loop for every call).
     */
    Slot acquire(CallerIdentity caller) {
        Slot slot = new Slot(caller.uid(), caller.pid());
        while (true) {
            Integer n = inFlight.get(slot);
            if (n == null) {
                if (inFlight.putIfAbsent(slot, 1) == null) {
                    return slot;
                }
            } else if (n >= maxPerCaller) {
                return null;
            } else if (inFlight.replace(slot, n, n + 1)) {
                return slot;
            }
        }
    }

    /** Callers with a count in the map: a caller whose last call ended has none (no entry per past caller stays). */
    int callers() {
        return inFlight.size();
    }

    /** Frees a slot {@link #acquire} gave; the caller's entry goes when its count reaches zero. */
    void release(Slot slot) {
        while (true) {
            Integer n = inFlight.get(slot);
            if (n == null || (n <= 1 ? inFlight.remove(slot, n) : inFlight.replace(slot, n, n - 1))) {
                return;
            }
        }
    }
}
