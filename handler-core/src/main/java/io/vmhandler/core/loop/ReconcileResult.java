package io.vmhandler.core.loop;

import java.time.Duration;
import java.util.Objects;

/**
 * What a {@link Reconciler} asks the loop to do next with its key. Modelled on JOSDK's
 * {@code UpdateControl}/{@code BaseControl#rescheduleAfter}: the reconciler returns a control
 * value and the engine owns the retries. Immutable.
 */
public sealed interface ReconcileResult {

    /** In sync; forget the key's failure history. */
    static ReconcileResult done() {
        return Done.INSTANCE;
    }

    /**
     * Not finished but not failing either (e.g. waiting for the launcher to start): run again after
     * {@code delay}. Resets the failure history, so it never grows the backoff.
     */
    static ReconcileResult requeueAfter(Duration delay) {
        Objects.requireNonNull(delay, "delay");
        if (delay.isNegative()) {
            throw new IllegalArgumentException("requeueAfter delay must be >= 0, got " + delay);
        }
        return new RequeueAfter(delay);
    }

    /**
     * Retrying cannot fix this (an invalid spec, EPERM from our own configuration): stop retrying
     * and call {@link Reconciler#onGiveUp} with {@code reason}. The key runs again only when
     * something adds it again (the object changed).
     */
    static ReconcileResult failPermanently(String reason) {
        Objects.requireNonNull(reason, "reason");
        if (reason.isBlank()) {
            throw new IllegalArgumentException("failPermanently reason must not be blank");
        }
        return new FailPermanently(reason);
    }

    /** See {@link #done()}. */
    enum Done implements ReconcileResult {
        INSTANCE
    }

    /** See {@link #requeueAfter(Duration)}. */
    record RequeueAfter(Duration delay) implements ReconcileResult {}

    /** See {@link #failPermanently(String)}. */
    record FailPermanently(String reason) implements ReconcileResult {}
}
