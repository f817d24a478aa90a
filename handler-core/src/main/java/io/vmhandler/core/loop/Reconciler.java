package io.vmhandler.core.loop;

/**
 * Brings the world in line with the latest state of one key (a VMI). Called by a
 * {@link ControllerLoop} worker thread; the loop guarantees a key is never reconciled by two
 * threads at once, but different keys run in parallel, so shared state must be thread-safe.
 *
 * <p>Must be idempotent: it may run again for the same key at any time (a coalesced event, a
 * retry, a daemon restart). It may block on I/O; a blocked call holds one worker.
 *
 * <p>Throwing means "retry with capped exponential backoff" (JOSDK {@code Reconciler#reconcile}
 * throws Exception the same way). Return {@link ReconcileResult#failPermanently(String)} when
 * retrying cannot help; the loop then stops retrying until the key is added again.
 *
 * @param <K> the key type; needs value equality (a record), since it is kept in hash sets
 */
@FunctionalInterface
public interface Reconciler<K> {

    ReconcileResult reconcile(K key) throws Exception;

    /**
     * Called once when the loop stops retrying a key: either the reconciler asked for it
     * ({@code cause} is null) or {@link RetryPolicy#maxAttempts()} ran out ({@code cause} is the
     * last failure). The place to write a status condition or an Event, like JOSDK's
     * {@code updateErrorStatus}. Runs on the worker that still holds the key, so it is serialized
     * with {@link #reconcile} for that key. Exceptions thrown here are logged and dropped.
     */
    default void onGiveUp(K key, String reason, Throwable cause) {}
}
