package io.vmhandler.core.loop;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * A manual clock for backoff tests (a test double: real time would make the tests sleep). Time
 * moves only in {@link #advance}, which runs the tasks that came due, in due order, on the caller.
 */
public final class FakeScheduler implements Scheduler {
    private long now = 1_000_000_000L;
    private final List<Task> tasks = new ArrayList<>();

    private static final class Task {
        final long due;
        final Runnable run;
        boolean cancelled;

        Task(long due, Runnable run) {
            this.due = due;
            this.run = run;
        }
    }

    @Override
    public synchronized long nanoTime() {
        return now;
    }

    @Override
    public synchronized Cancellable schedule(Runnable task, Duration delay) {
        Task t = new Task(now + delay.toNanos(), task);
        tasks.add(t);
        return () -> {
            synchronized (FakeScheduler.this) {
                t.cancelled = true;
                tasks.remove(t);
            }
        };
    }

    /** Moves the clock forward and runs every task due by then. */
    public void advance(Duration d) {
        long target;
        synchronized (this) {
            target = now + d.toNanos();
        }
        while (true) {
            Task next;
            synchronized (this) {
                next = tasks.stream().filter(t -> t.due <= target).min(Comparator.comparingLong(t -> t.due))
                        .orElse(null);
                if (next == null) {
                    now = target;
                    return;
                }
                tasks.remove(next);
                now = Math.max(now, next.due);
            }
            next.run.run();
        }
    }

    /** Delays from now of the tasks not yet run, soonest first. */
    public synchronized List<Duration> pending() {
        return tasks.stream().filter(t -> !t.cancelled).map(t -> Duration.ofNanos(t.due - now)).sorted().toList();
    }
}
