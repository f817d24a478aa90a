package io.vmhandler.nativeio;

import static io.vmhandler.nativeio.LinuxConstants.CLONE_NEWNET;
import static io.vmhandler.nativeio.LinuxConstants.O_RDONLY;

import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The platform threads that may enter other network namespaces, as an {@link Executor}.
 *
 * <p>Why not a fixed pool: a launcher call should cost one thread hand-off, so the thread that takes the call
 * from the event loop also enters the caller's netns itself ({@link NetNamespace#run} runs inline on a worker
 * that is at home). That thread must be one that can be trusted to come home or be retired, which a pooled
 * thread of another executor cannot promise. The choices, each measured by {@code bin/bench-launcher}:
 * <ul>
 *   <li>LIFO: the most recently parked worker takes the next task, so a lone caller keeps meeting the same warm
 *       thread (its stack, TLABs and caches) instead of rotating through cold ones as a FIFO queue does;</li>
 *   <li>at most {@code slots} threads run tasks at once (the cores): more only queue for the same CPUs;</li>
 *   <li>a worker that waits for another task of this pool ({@link #awaiting}) frees its slot while it waits,
 *       so nested work cannot deadlock the pool;</li>
 *   <li>a task queued for {@value #SPARE_AFTER_MILLIS} ms gets an extra thread, so a pool whose tasks all
 *       block (a pod's calls waiting in PodCallGate, a slow netlink answer) still moves; extra threads exit
 *       once idle;</li>
 *   <li>every worker starts by entering the process's own netns ({@code /proc/self/ns/net}, the main thread's),
 *       because a thread inherits the netns of the thread that created it, which may be a worker inside a
 *       pod's netns; a worker that could not get back there ({@link #strand}) is retired after its task.</li>
 * </ul>
 * Threads are created on demand and parked idle workers stay, so the warm ones are reused.
 *
 * <p>Thread-safe. {@link #close} rejects new tasks and lets parked workers exit; tasks already running finish.
 */
public final class NamespaceWorkers implements Executor, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(NamespaceWorkers.class);
    static final long SPARE_AFTER_MILLIS = 20;
    private static final Executor SPARE_TIMER =
            CompletableFuture.delayedExecutor(SPARE_AFTER_MILLIS, TimeUnit.MILLISECONDS, Runnable::run);
    private static final ThreadLocal<Worker> CURRENT = new ThreadLocal<>();

    private final String name;
    private final int slots;
    private final Fd home;
    private final Object lock = new Object();
    /** Parked workers, most recently parked first. */
    private final ArrayDeque<Worker> idle = new ArrayDeque<>();
    private final ArrayDeque<Runnable> pending = new ArrayDeque<>();
    private final AtomicLong retired = new AtomicLong();
    private final AtomicLong started = new AtomicLong();
    private int threads;
    private int awaiting;
    private boolean closed;

    /**
     * @param slots how many workers run tasks at once, 1..1024; {@link #cores()} for the node
     * @throws SyscallException if the process's own netns cannot be opened (no procfs)
     */
    public NamespaceWorkers(String name, int slots) throws SyscallException {
        this(name, slots, openHome());
    }

    /** @param home the netns every worker starts in and returns to; the pool owns it (tests pass their own) */
    NamespaceWorkers(String name, int slots, Fd home) {
        if (slots < 1 || slots > 1024) {
            home.close();
            throw new IllegalArgumentException("slots: must be between 1 and 1024, got " + slots);
        }
        this.name = name;
        this.slots = slots;
        this.home = home;
    }

    private static Fd openHome() throws SyscallException {
        NativeSupport.ensureAvailable();
        return Syscalls.open("/proc/self/ns/net", O_RDONLY);
    }

    /** The CPUs this JVM may run on: the size that keeps every worker on a core. */
    public static int cores() {
        return Runtime.getRuntime().availableProcessors();
    }

    /** Runs {@code task} on a worker at home in the process's netns. */
    @Override
    public void execute(Runnable task) {
        Worker wake = null;
        boolean spawn = false;
        boolean queued = false;
        synchronized (lock) {
            if (closed) {
                throw new RejectedExecutionException("namespace workers " + name + " are closed");
            }
            if (!idle.isEmpty()) {
                wake = idle.pop();
                wake.next = task;
            } else if (threads - awaiting < slots) {
                threads++;
                spawn = true;
            } else {
                pending.add(task);
                queued = true;
            }
        }
        if (wake != null) {
            LockSupport.unpark(wake.thread);
        } else if (spawn) {
            startWorker(task);
        } else if (queued) {
            SPARE_TIMER.execute(() -> spareFor(task));
        }
    }

    /** After {@value #SPARE_AFTER_MILLIS} ms: the task is still queued, so an extra thread runs it. */
    private void spareFor(Runnable task) {
        synchronized (lock) {
            if (closed || !pending.removeFirstOccurrence(task)) {
                return;
            }
            threads++;
        }
        log.atDebug().addKeyValue("pool", name).log("task queued for {} ms: extra worker", SPARE_AFTER_MILLIS);
        startWorker(task);
    }

    /** True on a worker of this pool that is in the process's netns, where {@link #strand} was never called. */
    public boolean onHomeWorker() {
        Worker w = CURRENT.get();
        return w != null && w.pool == this && !w.stranded && w.depth == 0;
    }

    /**
     * Enters {@code ns} on the current worker (which must be {@link #onHomeWorker()}), runs {@code task} and
     * returns home. If the return fails the worker is stranded: it finishes its current task, never enters a
     * netns again, and retires.
     */
    public <T> T inside(Fd ns, NetNamespace.Task<T> task) throws java.io.IOException {
        Worker w = CURRENT.get();
        if (w == null || w.pool != this || w.stranded || w.depth != 0) {
            throw new IllegalStateException("inside() on a thread that is not an at-home worker of " + name);
        }
        Syscalls.setns(ns, CLONE_NEWNET); // on failure this thread never left home
        w.depth++;
        w.entered = ns;
        try {
            return task.call();
        } finally {
            w.depth--;
            w.entered = null;
            // before the setns home: what was opened in this entry belongs to this netns and must not outlive it
            w.closeEntryResources();
            try {
                Syscalls.setns(home, CLONE_NEWNET);
            } catch (Throwable t) {
                strand(w, t);
            }
        }
    }

    /**
     * True on a worker of this pool that is inside the namespace it entered through this very {@code ns} object
     * (the caller holds it open, so it still names that namespace): {@link #again} can run a task there inline.
     * Identity of the {@link Fd} object, not of its number or the namespace's inode, so nothing that was closed
     * and reopened, and no pidfd whose process moved since, is taken for the namespace the thread is in.
     */
    public boolean insideOf(Fd ns) {
        Worker w = CURRENT.get();
        return w != null && w.pool == this && w.depth > 0 && w.entered == ns;
    }

    /** Runs {@code task} on this worker, which is {@link #insideOf} {@code ns} already: no setns either way. */
    public <T> T again(Fd ns, NetNamespace.Task<T> task) throws java.io.IOException {
        Worker w = CURRENT.get();
        if (w == null || w.pool != this || w.depth == 0 || w.entered != ns) {
            throw new IllegalStateException("again() on a thread that is not inside " + ns.label() + " for " + name);
        }
        w.depth++;
        try {
            return task.call();
        } finally {
            w.depth--;
        }
    }

    /** Opens the resource an {@link #entryResource} keeps for one namespace entry. */
    @FunctionalInterface
    public interface EntryOpener<R> {
        R open() throws java.io.IOException;
    }

    /** Closes it when the worker leaves the namespace. */
    @FunctionalInterface
    public interface EntryCloser<R> {
        void close(R resource);
    }

    /**
     * On a worker of any pool that is inside a namespace entry ({@link #inside}): the resource kept under
     * {@code key} for this entry, opened by {@code opener} on first use; {@code closer} runs when the worker leaves
     * the namespace, before its setns home. Elsewhere (not a worker, or a worker at home): null, and the caller
     * opens and closes its own.
     *
     * <p>Why per entry: a socket belongs to the netns of the thread that created it (a netlink socket answers for
     * {@code sock_net(sk)}, net/netlink/af_netlink.c), so one opened in a pod's netns must never be used after the
     * thread has left it; and a socket holds a reference on its netns (sk_alloc takes get_net for a user socket,
     * net/core/sock.c), so one kept beyond the entry would keep a dead pod's netns, and its taps, alive. Within
     * one entry every call on the worker (one PrepareNetwork's taps and their QoS) shares it. Not thread-safe and
     * need not be: a worker's entry is its own.
     */
    public static <R> R entryResource(Object key, EntryOpener<R> opener, EntryCloser<R> closer)
            throws java.io.IOException {
        Worker w = CURRENT.get();
        if (w == null || w.depth == 0) {
            return null;
        }
        for (EntryResource<?> r : w.resources) {
            if (r.key == key) {
                @SuppressWarnings("unchecked")
                R value = (R) r.value;
                return value;
            }
        }
        R value = opener.open();
        w.resources.add(new EntryResource<>(key, value, closer));
        return value;
    }

    private record EntryResource<R>(Object key, R value, EntryCloser<R> closer) {
        void close() {
            closer.close(value);
        }
    }

    private void strand(Worker w, Throwable why) {
        w.stranded = true;
        log.atError().addKeyValue("pool", name).addKeyValue("worker", w.thread.getName()).setCause(why)
                .log("namespace worker could not return to the daemon's netns; it retires after its task");
    }

    /**
     * Marks the current worker as waiting for another task of this pool while {@code wait} runs, so that task
     * can get a slot. On a thread that is no worker of this pool it just runs {@code wait}.
     */
    public <T> T awaiting(java.util.concurrent.Callable<T> wait) throws Exception {
        Worker w = CURRENT.get();
        boolean mine = w != null && w.pool == this;
        if (mine) {
            synchronized (lock) {
                awaiting++;
            }
            drainIntoFreedSlot();
        }
        try {
            return wait.call();
        } finally {
            if (mine) {
                synchronized (lock) {
                    awaiting--;
                }
            }
        }
    }

    /** A slot was freed: a queued task may start on a new thread now instead of after the spare delay. */
    private void drainIntoFreedSlot() {
        Runnable task;
        synchronized (lock) {
            if (closed || pending.isEmpty() || threads - awaiting >= slots) {
                return;
            }
            task = pending.poll();
            threads++;
        }
        startWorker(task);
    }

    /**
     * On a worker of this pool: runs {@code done} once the worker is ready for its next task (parked or holding the
     * next one); elsewhere: runs it now. A caller that waits for a task's result is woken through it (and a launcher
     * call's reply goes out through it), so its next task finds this warm worker idle instead of making the pool
     * wake or start another thread. Several within one task run in the order given, each even if one before it
     * threw.
     */
    public void afterTask(Runnable done) {
        Worker w = CURRENT.get();
        if (w != null && w.pool == this) {
            Runnable before = w.afterTask;
            w.afterTask = before == null ? done : () -> {
                try {
                    before.run();
                } finally {
                    done.run();
                }
            };
        } else {
            done.run();
        }
    }

    /** Workers retired because they could not return to the daemon's netns. */
    public long retiredWorkers() {
        return retired.get();
    }

    /** Threads started since creation (a measure of reuse: a warm pool stops starting them). */
    public long startedThreads() {
        return started.get();
    }

    /** Workers parked, waiting for a task. */
    int idleWorkers() {
        synchronized (lock) {
            return idle.size();
        }
    }

    /** Threads alive now, parked or running. */
    public int threads() {
        synchronized (lock) {
            return threads;
        }
    }

    private void startWorker(Runnable first) {
        Worker w = new Worker(first);
        Thread t = new Thread(w::loop, name + "-ns-" + started.incrementAndGet());
        t.setDaemon(true);
        w.thread = t;
        t.start();
    }

    @Override
    public void close() {
        Worker[] parked;
        synchronized (lock) {
            closed = true;
            parked = idle.toArray(new Worker[0]);
            idle.clear();
            pending.clear();
            closeHomeIfLast();
        }
        for (Worker w : parked) {
            LockSupport.unpark(w.thread);
        }
    }

    /** Under the lock: the home fd outlives every worker, which needs it to come back. */
    private void closeHomeIfLast() {
        if (closed && threads == 0) {
            home.close();
        }
    }

    /** Under the lock: this thread leaves the pool. */
    private void exit() {
        threads--;
        closeHomeIfLast();
    }

    private enum Step { EXIT, NEXT, IDLE }

    private final class Worker {
        final NamespaceWorkers pool = NamespaceWorkers.this;
        volatile Runnable next;
        volatile Thread thread;
        Runnable afterTask;
        boolean stranded;
        int depth;
        /** The fd this worker entered its current namespace through (null at home). */
        Fd entered;
        /** What {@link #entryResource} opened in the current entry; a handful at most, so a list. */
        final java.util.List<EntryResource<?>> resources = new java.util.ArrayList<>(2);

        Worker(Runnable first) {
            this.next = first;
        }

        void closeEntryResources() {
            for (int i = resources.size() - 1; i >= 0; i--) {
                try {
                    resources.get(i).close();
                } catch (RuntimeException e) {
                    log.atError().addKeyValue("pool", name).setCause(e).log("closing a namespace entry's resource failed");
                }
            }
            resources.clear();
        }

        void loop() {
            CURRENT.set(this);
            try {
                // a thread starts in its creator's netns, which may be a pod's: enter the daemon's first
                Syscalls.setns(home, CLONE_NEWNET);
            } catch (Throwable t) {
                strand(this, t);
            }
            while (true) {
                Runnable task = next;
                next = null;
                // a stranded worker still runs its task: inside() refuses it, so work that needs a netns fails with
                // a clear error instead of waiting for a worker a broken pool would never produce
                try {
                    task.run();
                } catch (Throwable t) {
                    log.atError().addKeyValue("pool", name).setCause(t).log("namespace worker task failed");
                }
                if (!takeNextOrPark()) {
                    return;
                }
            }
        }

        /** Returns false when this thread must exit: retired, surplus or closed. */
        private boolean takeNextOrPark() {
            Step step = nextOrIdle();
            Runnable done = afterTask;
            afterTask = null;
            if (done != null) {
                // after the worker is idle (or holds its next task): the woken caller's next task finds it
                try {
                    done.run();
                } catch (Throwable t) {
                    log.atError().addKeyValue("pool", name).setCause(t).log("namespace worker completion failed");
                }
            }
            return switch (step) {
                case EXIT -> false;
                case NEXT -> true;
                case IDLE -> parkUntilNext();
            };
        }

        /** Takes a queued task, or joins the idle stack, or leaves the pool. */
        private Step nextOrIdle() {
            synchronized (lock) {
                if (stranded) {
                    exit();
                    retired.incrementAndGet();
                    return Step.EXIT;
                }
                if (!pending.isEmpty() && !closed) {
                    next = pending.poll();
                    return Step.NEXT;
                }
                if (closed || threads - awaiting > slots) {
                    exit(); // closed, or an extra thread whose burst is over
                    return Step.EXIT;
                }
                idle.push(this);
                return Step.IDLE;
            }
        }

        private boolean parkUntilNext() {
            while (next == null) {
                LockSupport.park(this);
                synchronized (lock) {
                    if (next == null && closed) {
                        exit();
                        return false;
                    }
                }
            }
            return true;
        }
    }
}
