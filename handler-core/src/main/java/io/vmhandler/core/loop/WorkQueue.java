package io.vmhandler.core.loop;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A rate-limited work queue with per-key serialization, after client-go's {@code workqueue}
 * (dirty set + processing set + FIFO, delaying queue, per-item exponential limiter) that
 * KubeVirt's virt-handler runs its VMIs through.
 *
 * <ul>
 *   <li>A key is handed to at most one worker at a time: {@link #take()} marks it in flight until
 *       {@link #done(Object)}.
 *   <li>Adds coalesce: a key already pending is not queued twice; a key added while in flight is
 *       queued once more when its run ends, so the latest state is always seen after the add.
 *   <li>{@link #addAfter} keeps only the earliest pending timer per key;
 *       {@link #addRateLimited} waits per the {@link RetryPolicy} and the key's failure count,
 *       which {@link #forget} resets.
 * </ul>
 *
 * <p>Thread-safe. Only {@link #take()} blocks. Callbacks to the {@link WorkQueueListener} run on
 * the calling thread.
 *
 * @param <K> the key type; needs value equality
 */
public final class WorkQueue<K> {
    private final RetryPolicy retry;
    private final Scheduler scheduler;
    private final WorkQueueListener listener;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final ArrayDeque<K> ready = new ArrayDeque<>();
    /** Keys that must run (again): in {@code ready}, or in flight and re-added. */
    private final Set<K> dirty = new HashSet<>();
    private final Set<K> processing = new HashSet<>();
    /** When each dirty key was first added, for the add-to-start latency. */
    private final Map<K, Long> addedAt = new HashMap<>();
    private final Map<K, Timer> timers = new HashMap<>();
    private final Map<K, Integer> failures = new HashMap<>();
    private boolean shuttingDown;
    private boolean drain;

    public WorkQueue(RetryPolicy retry, Scheduler scheduler, WorkQueueListener listener) {
        this.retry = Objects.requireNonNull(retry, "retry");
        this.scheduler = Objects.requireNonNull(scheduler, "scheduler");
        this.listener = Objects.requireNonNull(listener, "listener");
    }

    /** Queues {@code key} unless it is already pending; ignored after shutdown. */
    public void add(K key) {
        Objects.requireNonNull(key, "key");
        lock.lock();
        try {
            if (shuttingDown || !dirty.add(key)) {
                return;
            }
            addedAt.put(key, scheduler.nanoTime());
            listener.added();
            if (processing.contains(key)) {
                return; // done() queues it again
            }
            ready.addLast(key);
            listener.depth(ready.size());
            changed.signal();
        } finally {
            lock.unlock();
        }
    }

    /** Adds {@code key} after {@code delay}; an earlier timer already pending for it wins. */
    public void addAfter(K key, Duration delay) {
        Objects.requireNonNull(key, "key");
        if (delay.isNegative() || delay.isZero()) {
            add(key);
            return;
        }
        lock.lock();
        try {
            if (shuttingDown) {
                return;
            }
            long due = scheduler.nanoTime() + delay.toNanos();
            Timer old = timers.get(key);
            if (old != null) {
                if (old.due - due <= 0) {
                    return;
                }
                old.handle.cancel();
            }
            Timer t = new Timer(due);
            timers.put(key, t);
            t.handle = scheduler.schedule(() -> fire(key, t), delay);
        } finally {
            lock.unlock();
        }
    }

    private void fire(K key, Timer t) {
        lock.lock();
        try {
            if (timers.get(key) != t) {
                return; // replaced by an earlier timer, or dropped by shutdown
            }
            timers.remove(key);
        } finally {
            lock.unlock();
        }
        add(key);
    }

    /**
     * Counts a failure of {@code key} and adds it back after the policy's backoff. Returns that
     * delay, or empty (and does not add) when the policy's attempts are used up.
     */
    public Optional<Duration> addRateLimited(K key) {
        Optional<Duration> delay;
        lock.lock();
        try {
            int n = failures.merge(key, 1, Integer::sum);
            delay = retry.delayAfter(n);
        } finally {
            lock.unlock();
        }
        delay.ifPresent(d -> {
            listener.retried();
            addAfter(key, d);
        });
        return delay;
    }

    /** Clears the failure count of {@code key}, so its next failure starts at the initial delay. */
    public void forget(K key) {
        lock.lock();
        try {
            failures.remove(key);
        } finally {
            lock.unlock();
        }
    }

    /** Consecutive failures counted for {@code key} since the last {@link #forget}. */
    public int failures(K key) {
        lock.lock();
        try {
            return failures.getOrDefault(key, 0);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Blocks until a key is ready and marks it in flight; the caller must call {@link #done} for
     * it. Returns null once the queue is shut down (after draining, in drain mode).
     */
    public K take() throws InterruptedException {
        lock.lockInterruptibly();
        try {
            while (ready.isEmpty() && !shuttingDown) {
                changed.await();
            }
            if (ready.isEmpty() || (shuttingDown && !drain)) {
                return null;
            }
            K key = ready.pollFirst();
            processing.add(key);
            dirty.remove(key);
            Long t0 = addedAt.remove(key);
            listener.depth(ready.size());
            if (t0 != null) {
                listener.queueLatency(Duration.ofNanos(scheduler.nanoTime() - t0));
            }
            return key;
        } finally {
            lock.unlock();
        }
    }

    /** Ends the run of {@code key}; queues it again if it was added meanwhile. */
    public void done(K key) {
        lock.lock();
        try {
            if (!processing.remove(key)) {
                throw new IllegalStateException("done(" + key + ") without take()");
            }
            if (dirty.contains(key) && (!shuttingDown || drain)) {
                ready.addLast(key);
                listener.depth(ready.size());
            }
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Stops accepting adds and drops pending timers. With {@code drain}, {@link #take()} still
     * hands out every key already queued (and keys re-added while in flight) before returning
     * null; without it, queued keys are dropped and {@link #take()} returns null at once. Runs
     * in flight are never interrupted here.
     */
    public void shutDown(boolean drain) {
        lock.lock();
        try {
            if (shuttingDown) {
                return;
            }
            shuttingDown = true;
            this.drain = drain;
            timers.values().forEach(t -> t.handle.cancel());
            timers.clear();
            if (!drain) {
                ready.clear();
                dirty.clear();
                addedAt.clear();
                listener.depth(0);
            }
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    public boolean isShuttingDown() {
        lock.lock();
        try {
            return shuttingDown;
        } finally {
            lock.unlock();
        }
    }

    /** Keys ready to run now. */
    public int depth() {
        lock.lock();
        try {
            return ready.size();
        } finally {
            lock.unlock();
        }
    }

    /** Keys in flight on a worker. */
    public int inFlight() {
        lock.lock();
        try {
            return processing.size();
        } finally {
            lock.unlock();
        }
    }

    /** Keys waiting for an {@link #addAfter} timer. */
    public int waiting() {
        lock.lock();
        try {
            return timers.size();
        } finally {
            lock.unlock();
        }
    }

    private static final class Timer {
        final long due;
        Scheduler.Cancellable handle;

        Timer(long due) {
            this.due = due;
        }
    }
}
