package io.vmhandler.core.loop;

import io.vmhandler.core.loop.WorkQueueListener.Outcome;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * N platform worker threads that take keys from a {@link WorkQueue} and run a {@link Reconciler}:
 * forget on success, back off on exceptions, give up on {@link ReconcileResult#failPermanently} or
 * when the {@link RetryPolicy} runs out (JOSDK's {@code EventProcessor}; KubeVirt's
 * {@code Execute}: {@code Forget} on success, {@code AddRateLimited} on error).
 *
 * <p>Lifecycle: {@link #start()} once, then {@link #shutdown} (or {@link #close()}, which drains).
 * Producers (informer callbacks) call {@link #add} / {@link #addAfter} from any thread; those never
 * block. Worker threads are platform daemon threads named {@code <name>-worker-<i>}, so a
 * reconciler may use thread-confined kernel state (setns) on a thread of its own.
 *
 * @param <K> the key type; needs value equality
 */
public final class ControllerLoop<K> implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ControllerLoop.class);

    /** How {@link #shutdown} treats keys that are queued but not started. */
    public enum ShutdownMode {
        /** Run every queued key first (a SIGTERM with time to spare). */
        DRAIN,
        /** Drop queued keys; only runs in flight finish. */
        STOP
    }

    private final String name;
    private final Reconciler<K> reconciler;
    private final WorkQueue<K> queue;
    private final Scheduler scheduler;
    private final boolean ownsScheduler;
    private final WorkQueueListener listener;
    private final Predicate<Throwable> expected;
    private final List<Thread> workers = new ArrayList<>();
    private final int workerCount;
    private boolean started;

    private ControllerLoop(Builder<K> b) {
        this.name = b.name;
        this.reconciler = b.reconciler;
        this.ownsScheduler = b.scheduler == null;
        this.scheduler = ownsScheduler ? Scheduler.system(b.name) : b.scheduler;
        this.listener = b.listener;
        this.expected = b.expected;
        this.workerCount = b.workers;
        this.queue = new WorkQueue<>(b.retry, scheduler, b.listener);
    }

    public static <K> Builder<K> builder(String name, Reconciler<K> reconciler) {
        return new Builder<>(name, reconciler);
    }

    /** Starts the workers. Adds made before this are kept and run once the workers start. */
    public synchronized void start() {
        if (started) {
            throw new IllegalStateException(name + " already started");
        }
        started = true;
        for (int i = 0; i < workerCount; i++) {
            Thread t = new Thread(this::work, name + "-worker-" + i);
            t.setDaemon(true);
            workers.add(t);
            t.start();
        }
        log.atInfo().addKeyValue("loop", name).addKeyValue("workers", workerCount).log("control loop started");
    }

    public void add(K key) {
        queue.add(key);
    }

    public void addAfter(K key, Duration delay) {
        queue.addAfter(key, delay);
    }

    /** The queue, for metrics and tests. */
    public WorkQueue<K> queue() {
        return queue;
    }

    /**
     * Stops taking new keys, lets the workers finish per {@code mode}, and waits up to {@code
     * timeout} for them. Workers still running then are interrupted and given one more second.
     * Blocks the caller. Returns true when every worker has ended.
     */
    public boolean shutdown(ShutdownMode mode, Duration timeout) throws InterruptedException {
        queue.shutDown(mode == ShutdownMode.DRAIN);
        long deadline = System.nanoTime() + timeout.toNanos();
        List<Thread> ws;
        synchronized (this) {
            ws = List.copyOf(workers);
        }
        for (Thread t : ws) {
            t.join(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
        }
        boolean clean = true;
        for (Thread t : ws) {
            if (t.isAlive()) {
                clean = false;
                log.atWarn().addKeyValue("loop", name).addKeyValue("thread", t.getName())
                        .log("worker still running at shutdown deadline, interrupting it");
                t.interrupt();
                t.join(1000);
            }
        }
        if (ownsScheduler) {
            scheduler.close();
        }
        boolean allEnded = ws.stream().noneMatch(Thread::isAlive);
        log.atInfo().addKeyValue("loop", name).addKeyValue("mode", mode).addKeyValue("clean", clean)
                .log("control loop stopped");
        return allEnded;
    }

    /**
     * {@link #shutdown}({@link ShutdownMode#DRAIN}, 30 s); an interrupt while waiting is kept in
     * the thread's interrupt flag.
     */
    @Override
    public void close() {
        try {
            shutdown(ShutdownMode.DRAIN, Duration.ofSeconds(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void work() {
        while (true) {
            K key;
            try {
                key = queue.take();
            } catch (InterruptedException e) {
                return;
            }
            if (key == null) {
                return;
            }
            long t0 = scheduler.nanoTime();
            Outcome outcome = Outcome.ERROR;
            try {
                outcome = runOnce(key);
            } finally {
                queue.done(key);
                listener.workDone(Duration.ofNanos(scheduler.nanoTime() - t0), outcome);
            }
        }
    }

    private Outcome runOnce(K key) {
        ReconcileResult result;
        try {
            result = Objects.requireNonNull(reconciler.reconcile(key), "reconciler returned null");
        } catch (VirtualMachineError e) {
            throw e;
        } catch (Throwable e) {
            return failed(key, e);
        }
        queue.forget(key);
        if (result instanceof ReconcileResult.RequeueAfter r) {
            queue.addAfter(key, r.delay());
            return Outcome.REQUEUE;
        }
        if (result instanceof ReconcileResult.FailPermanently p) {
            log.atWarn().addKeyValue("vmi", key).addKeyValue("reason", p.reason())
                    .log("reconcile failed permanently; no retry until the object changes");
            giveUp(key, p.reason(), null);
            return Outcome.PERMANENT;
        }
        return Outcome.DONE;
    }

    private Outcome failed(K key, Throwable e) {
        int attempt = queue.failures(key) + 1;
        Optional<Duration> delay = queue.addRateLimited(key);
        if (delay.isEmpty()) {
            queue.forget(key);
            String reason = "gave up after " + attempt + " attempts: " + e;
            log.atError().addKeyValue("vmi", key).addKeyValue("attempts", attempt).setCause(e)
                    .log("reconcile failed and the retry attempts are used up");
            giveUp(key, reason, e);
            return Outcome.EXHAUSTED;
        }
        // the stack once per failure streak; later attempts repeat only the message
        var ev = expected.test(e) ? log.atInfo() : log.atWarn();
        if (attempt == 1 && !expected.test(e)) {
            ev = ev.setCause(e);
        }
        ev.addKeyValue("vmi", key).addKeyValue("attempt", attempt).addKeyValue("retryIn", delay.get())
                .addKeyValue("error", e.toString()).log("reconcile failed, retrying with backoff");
        return Outcome.ERROR;
    }

    private void giveUp(K key, String reason, Throwable cause) {
        try {
            reconciler.onGiveUp(key, reason, cause);
        } catch (RuntimeException e) {
            log.atError().addKeyValue("vmi", key).setCause(e).log("onGiveUp hook failed");
        }
    }

    /** Configures a {@link ControllerLoop}. Not thread-safe; use from one thread. */
    public static final class Builder<K> {
        private final String name;
        private final Reconciler<K> reconciler;
        private int workers = 4;
        private RetryPolicy retry = RetryPolicy.defaults();
        private Scheduler scheduler;
        private WorkQueueListener listener = WorkQueueListener.NONE;
        private Predicate<Throwable> expected = e -> false;

        private Builder(String name, Reconciler<K> reconciler) {
            this.name = Objects.requireNonNull(name, "name");
            this.reconciler = Objects.requireNonNull(reconciler, "reconciler");
        }

        /** Worker threads, 1..256; default 4. */
        public Builder<K> workers(int n) {
            if (n < 1 || n > 256) {
                throw new IllegalArgumentException("workers must be 1..256, got " + n);
            }
            this.workers = n;
            return this;
        }

        public Builder<K> retryPolicy(RetryPolicy p) {
            this.retry = Objects.requireNonNull(p, "retryPolicy");
            return this;
        }

        /** Clock and timer; default a real one that the loop closes at shutdown. */
        public Builder<K> scheduler(Scheduler s) {
            this.scheduler = Objects.requireNonNull(s, "scheduler");
            return this;
        }

        public Builder<K> listener(WorkQueueListener l) {
            this.listener = Objects.requireNonNull(l, "listener");
            return this;
        }

        /**
         * Failures that are part of normal operation (an HTTP 409 conflict): logged at info
         * without a stack, still retried (JOSDK {@code EventProcessor} does the same for 409).
         */
        public Builder<K> expectedFailures(Predicate<Throwable> p) {
            this.expected = Objects.requireNonNull(p, "expectedFailures");
            return this;
        }

        public ControllerLoop<K> build() {
            return new ControllerLoop<>(this);
        }
    }
}
