package io.vmhandler.core.loop;

import java.time.Duration;

/**
 * The loop's clock and timer, injected so backoff tests advance time instead of sleeping (docs/design.md §5,
 * "Inject time"). Implementations must be thread-safe; {@link #schedule} must not block and must
 * not run the task on the calling thread.
 */
public interface Scheduler extends AutoCloseable {

    /** Monotonic time in nanoseconds, like {@link System#nanoTime()}. */
    long nanoTime();

    /** Runs {@code task} once after {@code delay}, on a scheduler thread. */
    Cancellable schedule(Runnable task, Duration delay);

    /** Releases the timer thread; scheduled tasks that did not run are dropped. */
    @Override
    default void close() {}

    /** A handle to a scheduled task. */
    interface Cancellable {
        /** Best effort: a task already running is not interrupted. Idempotent. */
        void cancel();
    }

    /** The real clock with one daemon timer thread named {@code <name>-timer}. */
    static Scheduler system(String name) {
        return new SystemScheduler(name);
    }
}
