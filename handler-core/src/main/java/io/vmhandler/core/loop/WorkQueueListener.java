package io.vmhandler.core.loop;

import java.time.Duration;

/**
 * Metric hooks of a {@link WorkQueue} and its {@link ControllerLoop}. Called synchronously from
 * producer, worker and timer threads, sometimes while the queue's lock is held: implementations
 * must be thread-safe, fast and must not call back into the queue. Keys are not passed on purpose,
 * so metrics cannot grow a label per VMI.
 */
public interface WorkQueueListener {

    WorkQueueListener NONE = new WorkQueueListener() {};

    /** A key became pending (not counted when it coalesced into an already pending one). */
    default void added() {}

    /** The number of keys ready to run (not in flight, not waiting for a timer). */
    default void depth(int depth) {}

    /** A key waited {@code latency} from being added until a worker started it. */
    default void queueLatency(Duration latency) {}

    /** A key was put back with backoff after a failure. */
    default void retried() {}

    /** One reconcile run ended with {@code outcome} after {@code duration}. */
    default void workDone(Duration duration, Outcome outcome) {}

    /** How a reconcile run ended. */
    enum Outcome {
        /** {@link ReconcileResult#done()}. */
        DONE,
        /** {@link ReconcileResult#requeueAfter}. */
        REQUEUE,
        /** Threw; retried with backoff. */
        ERROR,
        /** Threw and the retry attempts ran out. */
        EXHAUSTED,
        /** {@link ReconcileResult#failPermanently}. */
        PERMANENT;

        /** The metric label value, e.g. {@code done}. */
        public String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }
}
