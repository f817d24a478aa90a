package io.vmhandler.core.launcher;

import io.vmhandler.core.checkpoint.CheckpointRecord;
import io.vmhandler.core.checkpoint.Checkpoints;
import io.vmhandler.core.metrics.DaemonMetrics;
import io.vmhandler.core.metrics.PrivilegedOp;
import io.vmhandler.nativeio.Fd;
import io.vmhandler.net.TapDevices;
import io.vmhandler.net.TapDevices.AtIndex;
import io.vmhandler.net.TapQos;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deletes released taps after Release has answered. Release does no RTNL operation: it looks up each tap's ifindex
 * (SIOCGIFINDEX, answered under RCU, {@link TapDevices#indexes}), records the pod's taps here in one checkpoint write
 * ({@link #release}) and returns; the RTM_DELLINK, which holds RTNL while unregister_netdevice waits for an RCU grace
 * period (about 16 ms per tap on this host), runs on a small pool of background threads. The taps keep their names
 * until deleted, so the pod's next PrepareNetwork (and ReleaseInterface) first waits for the pod's pending deletions
 * ({@link #awaitPod}): a new tap0 is never the old one adopted, nor clashes with it.
 *
 * <p>Why a pool and one deletion per task: on this kernel (6.18) deletions of different taps from different
 * threads overlap (40 `ip link del` in parallel: 200 ms; one after the other: 1637 ms, docs/launcher-api.md
 * §3.5), so a few threads drain a burst of Releases in a fraction of the sequential time.
 *
 * <p>Checkpoint: one record per pod (uid {@code tap-reap.<pod uid>}, separate from the VMI records, which the
 * reconciler removes with the VMI) with the pod uid, the caller's host pid and start time (to find the netns again
 * after a restart) and one field per tap, {@code tap.<ifindex>} = its name. The deleter deletes the link at that
 * ifindex only if it still is a tap of that name ({@link TapDevices#deleteAt}); ENODEV there means it is deleted
 * already; any other link at the index is left alone and logged. A Release's taps leave the record together once
 * deleted, in one write, and the record goes with its last tap. Records of the build that renamed taps to
 * tombstones ({@code tombstone.<name>} = tap name) are still finished by {@link #resume}, by name.
 *
 * <p>No fsync for this record (the daemon writes it with {@code CheckpointStore.withoutFsync}): it is written
 * atomically (temp file, rename), and a rename is in the kernel's page cache when rename(2) returns, so it survives
 * the daemon's SIGKILL or OOM kill, which is what this record is for. It is lost only with the node, and a node crash
 * destroys every pod netns and the taps in it (a netns lives only while a process or a mount holds it,
 * network_namespaces(7)), so there is nothing left to delete. The fsync was measured to cost more than the rest of
 * Release's path together (docs/launcher-api.md §3.5).
 *
 * <p>Each {@link #release} owns the pod's netns fd that Release opened from the caller's pidfd, so a caller that
 * exits right after Release does not matter; the fd is closed after that Release's last deletion.
 *
 * <p>Bounds: {@code workers} threads and a queue of {@code queue} deletions; when the queue is full the deletion runs
 * on the releasing thread (the Release then waits for the kernel). A pod with {@link #MAX_PENDING_PER_POD} taps
 * pending gets no more: {@link #release} returns empty and the caller deletes synchronously, which keeps the pod's
 * record within the checkpoint's field limit.
 *
 * <p>Concurrency (every method is thread-safe; record updates and the per-pod counts change together under one lock):
 * <ul>
 *   <li>two Releases of one pod at once: the first to take the lock records the taps; the second finds their
 *       ifindexes recorded and hands over nothing more, so each tap is deleted once;</li>
 *   <li>a Release retried while the deleter still deletes: the same (a tap still there is recorded already; one
 *       deleted since has no ifindex any more);</li>
 *   <li>PrepareNetwork or ReleaseInterface of a pod with pending deletions: {@link #awaitPod} waits until the pod's
 *       count is 0, which happens only after the record no longer names the taps, up to a timeout;</li>
 *   <li>Release or PrepareNetwork of another pod while deletions run: nothing is shared but the lock, held for a
 *       record update only (never across a kernel call); they never wait for the deletions.</li>
 * </ul>
 * After a restart, {@link #resume} counts every recorded tap as pending for its pod before it returns, so a daemon
 * that resumes before it serves the launcher socket never lets a PrepareNetwork past the deletions of the previous
 * run. {@link #close()} drains for up to {@link #DRAIN}, then abandons the rest, which stays checkpointed.
 */
public final class TapReaper implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TapReaper.class);

    /** Checkpoint uids of the pending deletions: this prefix and the pod uid. */
    public static final String RECORD_PREFIX = "tap-reap.";
    static final String POD = "pod";
    static final String PID = "pid";
    static final String START = "start";
    /** {@code tap.<ifindex>} = the tap's name. */
    static final String TAP = "tap.";
    /** Records of the build that renamed taps first: {@code tombstone.<tombstone name>} = the tap's old name. */
    static final String TOMBSTONE = "tombstone.";
    static final int MAX_PENDING_PER_POD = 128;
    /** How long {@link #close()} waits for the queued deletions. */
    static final Duration DRAIN = Duration.ofSeconds(2);

    /** Finds a pod's network namespace after a restart. */
    @FunctionalInterface
    public interface NetnsLocator {
        /**
         * An fd of the pod's netns: of the process {@code pid} if it still has {@code startTime}, else of any
         * process of the pod; empty when the pod has no process left.
         */
        Optional<Fd> open(String podUid, int pid, long startTime) throws IOException;
    }

    /**
     * How a caller blocks in {@link #awaitPod}: a netns worker marks itself waiting
     * ({@code NamespaceWorkers.awaiting}), so the calls of other pods get its slot meanwhile.
     */
    @FunctionalInterface
    public interface Waiting {
        void await(Callable<Void> wait) throws Exception;
    }

    /** {@link #awaitPod} gave up: the pod still has deletions pending. */
    public static final class StillPendingException extends IOException {
        private final int pending;

        StillPendingException(String pod, Duration timeout, int pending) {
            super("pod " + pod + " still has " + pending + " released tap(s) being deleted after waiting "
                    + timeout.toMillis() + " ms");
            this.pending = pending;
        }

        public int pending() {
            return pending;
        }
    }

    private final TapDevices taps;
    private final TapQos qos;
    private final Checkpoints store;
    private final DaemonMetrics metrics;
    private final ThreadPoolExecutor pool;
    private final AtomicInteger pending = new AtomicInteger();
    private final Object records = new Object();
    /** Pod uid → its deletions not finished yet; guarded by {@link #records}. */
    private final Map<String, PodPending> pods = new HashMap<>();
    private volatile Waiting waiting = Callable::call;
    private volatile Executor starting = Runnable::run;

    /**
     * @param taps    the tap devices the deletions run on (their own netns workers, so a burst of deletions never
     *                delays a launcher call's netns work)
     * @param metrics times each deletion as {@link PrivilegedOp#TAP_REAP}; null: not timed
     */
    public TapReaper(TapDevices taps, Checkpoints store, DaemonMetrics metrics, int workers, int queue) {
        this(taps, null, store, metrics, workers, queue);
    }

    /**
     * @param qos removes a tap's bandwidth limits before its deletion (null: taps without limits only). Release
     *            leaves them on the tap: its qdiscs die with it, but the ifb that carries its from-guest limit is a
     *            device of its own that would outlive it (docs/tap-qos.md)
     */
    public TapReaper(TapDevices taps, TapQos qos, Checkpoints store, DaemonMetrics metrics, int workers, int queue) {
        if (workers < 1) {
            throw new IllegalArgumentException("tap reaper workers must be >= 1, got " + workers);
        }
        if (queue < 1) {
            throw new IllegalArgumentException("tap reaper queue must be >= 1, got " + queue);
        }
        this.taps = taps;
        this.qos = qos;
        this.store = store;
        this.metrics = metrics;
        AtomicInteger seq = new AtomicInteger();
        this.pool = new ThreadPoolExecutor(workers, workers, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(queue), r -> {
            Thread t = new Thread(r, "tap-reaper-" + seq.incrementAndGet());
            t.setDaemon(true);
            return t;
        }, new ThreadPoolExecutor.CallerRunsPolicy());
    }

    /** How {@link #awaitPod} blocks (default: on the calling thread, unmarked). Returns this. */
    public TapReaper waitingWith(Waiting how) {
        this.waiting = java.util.Objects.requireNonNull(how, "how");
        return this;
    }

    /**
     * Where {@link #release} queues a hand-over's deletions (default: at once, on the releasing thread). The daemon
     * gives the launcher call's {@code AfterReply}, so the deleter threads wake once Release's reply is on its way
     * instead of taking the CPUs the reply needs. The deletions count as pending from the hand-over on, so the
     * pod's next call waits for them however late they start. {@code how} must run every task it is given. Returns
     * this.
     */
    public TapReaper startingWith(Executor how) {
        this.starting = java.util.Objects.requireNonNull(how, "how");
        return this;
    }

    /** Deletions handed over and not finished yet (the pending-deletions gauge). */
    public int pending() {
        return pending.get();
    }

    /** The pod's deletions not finished yet. */
    public int pending(String podUid) {
        synchronized (records) {
            PodPending p = pods.get(podUid);
            return p == null ? 0 : p.count;
        }
    }

    /**
     * Release's hand-over: records {@code taps} (name → ifindex) for the pod in one checkpoint write and queues their
     * deletion in {@code netns}, which this then owns, through {@link #startingWith} (they count as the pod's pending
     * deletions from here on, however late they start). A tap whose ifindex the pod's record holds already (a Release
     * at the same time, or retried) is not handed over again. Returns the names handed over now, in the order of
     * {@code taps}; empty, with {@code netns} still the caller's, when the pod would pass
     * {@link #MAX_PENDING_PER_POD} (then delete at once). Never throws for a deletion.
     *
     * @param pid the caller's host pid, and {@code startTime} its start time (/proc/PID/stat field 22)
     */
    public Optional<List<String>> release(String podUid, int pid, long startTime, Fd netns, Map<String, Integer> taps) {
        String uid = RECORD_PREFIX + podUid;
        List<String> keys = new ArrayList<>();
        List<String> names = new ArrayList<>();
        synchronized (records) {
            CheckpointRecord r = store.get(uid).orElse(CheckpointRecord.empty(uid));
            for (Map.Entry<String, Integer> t : taps.entrySet()) {
                String key = TAP + t.getValue();
                if (r.get(key).isEmpty()) {
                    keys.add(key);
                    names.add(t.getKey());
                }
            }
            if (pendingFields(r).size() + keys.size() > MAX_PENDING_PER_POD) {
                return Optional.empty();
            }
            if (!keys.isEmpty()) {
                r = r.with(POD, podUid).with(PID, Integer.toString(pid)).with(START, Long.toString(startTime));
                for (int i = 0; i < keys.size(); i++) {
                    r = r.with(keys.get(i), names.get(i));
                }
                store.put(r);
                pods.computeIfAbsent(podUid, p -> new PodPending()).count += keys.size();
                pending.addAndGet(keys.size());
            }
        }
        if (keys.isEmpty()) {
            netns.close();
            return Optional.of(List.of());
        }
        Handover h = new Handover(podUid, netns, keys.size());
        List<Deletion> deletions = new ArrayList<>(keys.size());
        for (int i = 0; i < keys.size(); i++) {
            deletions.add(new Deletion(h, keys.get(i), names.get(i), System.nanoTime()));
        }
        starting.execute(() -> deletions.forEach(this::submit));
        return Optional.of(names);
    }

    private void submit(Deletion d) {
        try {
            pool.execute(d);
        } catch (RejectedExecutionException e) {
            // shut down: the tap stays checkpointed for the next start
            d.handover.abandon(d.key);
        }
    }

    /**
     * Waits until the pod has no deletion pending (at once when it has none); other pods' deletions never count.
     *
     * @throws StillPendingException when some are still pending after {@code timeout}
     */
    public void awaitPod(String podUid, Duration timeout) throws IOException {
        CompletableFuture<Void> drained;
        synchronized (records) {
            PodPending p = pods.get(podUid);
            if (p == null) {
                return;
            }
            drained = p.drained;
        }
        try {
            waiting.await(() -> drained.get(timeout.toNanos(), TimeUnit.NANOSECONDS));
        } catch (TimeoutException e) {
            throw new StillPendingException(podUid, timeout, pending(podUid));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for the tap deletions of pod " + podUid, e);
        } catch (ExecutionException e) {
            throw new IOException("waiting for the tap deletions of pod " + podUid + " failed", e.getCause());
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException("waiting for the tap deletions of pod " + podUid + " failed", e);
        }
    }

    /**
     * Counts every tap the previous run recorded as pending for its pod (before this returns: call it before the
     * launcher socket serves) and finishes the deletions on the pool. Returns how many records there were.
     */
    public int resume(NetnsLocator locator) {
        List<CheckpointRecord> found = new ArrayList<>();
        synchronized (records) {
            for (CheckpointRecord r : store.list()) {
                if (r.uid().startsWith(RECORD_PREFIX)) {
                    found.add(r);
                    int n = pendingFields(r).size();
                    if (n > 0) {
                        pods.computeIfAbsent(pod(r), p -> new PodPending()).count += n;
                        pending.addAndGet(n);
                    }
                }
            }
        }
        for (CheckpointRecord r : found) {
            try {
                pool.execute(() -> resumeOne(r, locator));
            } catch (RejectedExecutionException e) {
                // shut down: still recorded for the next start
            }
        }
        if (!found.isEmpty()) {
            log.atInfo().addKeyValue("records", found.size())
                    .log("finishing the tap deletions of {} pod(s) left by the previous run", found.size());
        }
        return found.size();
    }

    private static String pod(CheckpointRecord r) {
        return r.get(POD).orElse(r.uid().substring(RECORD_PREFIX.length()));
    }

    private void resumeOne(CheckpointRecord r, NetnsLocator locator) {
        String pod = pod(r);
        List<String> fields = pendingFields(r);
        if (fields.isEmpty()) {
            synchronized (records) {
                store.remove(r.uid());
            }
            return;
        }
        Optional<Fd> netns;
        try {
            int pid = Integer.parseInt(r.get(PID).orElse("0"));
            long start = Long.parseLong(r.get(START).orElse("-1"));
            netns = pid > 0 ? locator.open(pod, pid, start) : Optional.empty();
        } catch (IOException | RuntimeException e) {
            log.atError().addKeyValue("pod", pod).setCause(e)
                    .log("finding the netns of pod {} failed: its {} recorded tap(s) are left to its netns's end",
                            pod, fields.size());
            finished(pod, fields, fields);
            return;
        }
        if (netns.isEmpty()) {
            log.atInfo().addKeyValue("pod", pod).addKeyValue("taps", fields.size())
                    .log("pod {} has no process left: its netns and its {} released tap(s) are gone with it", pod,
                            fields.size());
            finished(pod, fields, fields);
            return;
        }
        // in parallel on the pool, as a Release's taps: one hand-over owns the fd and writes the record once
        Handover h = new Handover(pod, netns.get(), fields.size());
        for (String f : fields) {
            submit(new Deletion(h, f, r.get(f).orElse(""), System.nanoTime()));
        }
    }

    /**
     * One deletion; true when it ends the tap's entry: deleted; gone already; another device at the index (left
     * alone); or a failure, logged, after which the tap (still named as before) is found again by the pod's next
     * Release, or goes with the pod's netns. False only for a deletion cut short by {@link #close()}: it stays
     * recorded for the next start.
     */
    private boolean deleteNow(String pod, Fd netns, String field, String name, long handedOver) {
        long t0 = System.nanoTime();
        Throwable failure = null;
        try {
            AtIndex outcome;
            if (field.startsWith(TOMBSTONE)) {
                String tombstone = field.substring(TOMBSTONE.length());
                removeLimits(netns, tombstone);
                outcome = taps.delete(netns, tombstone) ? AtIndex.THE_TAP : AtIndex.GONE;
                name = tombstone;
            } else {
                int ifindex = Integer.parseInt(field.substring(TAP.length()));
                outcome = qos == null ? AtIndex.THE_TAP : taps.checkAt(netns, ifindex, name);
                if (outcome == AtIndex.THE_TAP) {
                    // the ifb is named after the tap's ifindex: removed while the tap still holds that index
                    removeLimits(netns, name);
                    outcome = taps.deleteAt(netns, ifindex, name);
                }
            }
            if (outcome == AtIndex.OTHER_DEVICE) {
                log.atWarn().addKeyValue("pod", pod).addKeyValue("tap", name).addKeyValue("field", field)
                        .log("released tap {} of pod {}: the link at its ifindex is not that tap any more; left alone",
                                name, pod);
            } else {
                log.atDebug().addKeyValue("pod", pod).addKeyValue("tap", name).addKeyValue("outcome", outcome)
                        .addKeyValue("waitedMs", (t0 - handedOver) / 1_000_000)
                        .log("deleted released tap {} of pod {}", name, pod);
            }
            return true;
        } catch (IOException | RuntimeException e) {
            failure = e;
            if (pool.isShutdown()) {
                // stopping (close() interrupts what still runs after the drain): recorded for the next start
                log.atWarn().addKeyValue("pod", pod).addKeyValue("tap", name)
                        .log("deletion of released tap {} of pod {} cut short by the shutdown: left checkpointed", name,
                                pod);
                return false;
            }
            log.atError().addKeyValue("pod", pod).addKeyValue("tap", name).setCause(e)
                    .log("deleting released tap {} of pod {} failed; its next Release or its netns's end removes it: {}",
                            name, pod, e.getMessage());
            return true;
        } finally {
            if (metrics != null) {
                metrics.record(PrivilegedOp.TAP_REAP, Duration.ofNanos(System.nanoTime() - t0), failure);
            }
        }
    }

    private void removeLimits(Fd netns, String name) throws IOException {
        LauncherNetwork.removeQos(qos, netns, name);
    }

    /**
     * {@code counted} of the pod's entries are no longer pending; {@code done} of them leave the record (one write).
     * The pod's waiters are woken after the write, so a PrepareNetwork that waited never sees its old taps recorded.
     */
    private void finished(String pod, List<String> counted, List<String> done) {
        synchronized (records) {
            if (!done.isEmpty()) {
                String uid = RECORD_PREFIX + pod;
                Optional<CheckpointRecord> r = store.get(uid);
                if (r.isPresent()) {
                    CheckpointRecord next = r.get();
                    for (String f : done) {
                        next = next.without(f);
                    }
                    if (pendingFields(next).isEmpty()) {
                        store.remove(uid);
                    } else {
                        store.put(next);
                    }
                }
            }
            pending.addAndGet(-counted.size());
            PodPending p = pods.get(pod);
            if (p != null) {
                p.count -= counted.size();
                if (p.count <= 0) {
                    pods.remove(pod);
                    p.drained.complete(null);
                }
            }
        }
    }

    /** The fields naming a tap to delete: {@code tap.<ifindex>}, and {@code tombstone.<name>} of older records. */
    static List<String> pendingFields(CheckpointRecord r) {
        List<String> out = new ArrayList<>();
        for (String k : r.fields().keySet()) {
            if (k.startsWith(TAP) || k.startsWith(TOMBSTONE)) {
                out.add(k);
            }
        }
        return out;
    }

    /**
     * Stops taking deletions, waits up to {@link #DRAIN} for the queued ones, then abandons the rest: they stay
     * checkpointed and the next start deletes them.
     */
    @Override
    public void close() {
        pool.shutdown();
        try {
            if (!pool.awaitTermination(DRAIN.toMillis(), TimeUnit.MILLISECONDS)) {
                List<Runnable> left = pool.shutdownNow();
                for (Runnable r : left) {
                    if (r instanceof Deletion d) {
                        d.handover.abandon(d.key);
                    }
                }
                log.atWarn().addKeyValue("abandoned", left.size())
                        .log("stopping with {} tap deletion(s) queued: left checkpointed for the next start", left.size());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            pool.shutdownNow();
        }
    }

    /** A pod's pending count and the future its waiters wait on, completed when the count reaches 0. */
    private static final class PodPending {
        int count;
        final CompletableFuture<Void> drained = new CompletableFuture<>();
    }

    /** One tap to delete, queued on the pool. */
    private final class Deletion implements Runnable {
        final Handover handover;
        final String key;
        final String name;
        final long handedOver;

        Deletion(Handover handover, String key, String name, long handedOver) {
            this.handover = handover;
            this.key = key;
            this.name = name;
            this.handedOver = handedOver;
        }

        @Override
        public void run() {
            if (deleteNow(handover.pod, handover.fd, key, name, handedOver)) {
                handover.done(key);
            } else {
                handover.abandon(key);
            }
        }
    }

    /**
     * One Release's taps: they share its netns fd, closed by the last deletion, which also removes them from the
     * checkpoint in one write. A deletion abandoned at shutdown stays recorded, and pending: the daemon is stopping.
     */
    private final class Handover {
        final String pod;
        final Fd fd;
        final java.util.Queue<String> done = new ConcurrentLinkedQueue<>();
        final java.util.Queue<String> counted = new ConcurrentLinkedQueue<>();
        private final AtomicInteger users;

        Handover(String pod, Fd fd, int users) {
            this.pod = pod;
            this.fd = fd;
            this.users = new AtomicInteger(users);
        }

        void done(String key) {
            done.add(key);
            counted.add(key);
            last();
        }

        void abandon(String key) {
            last();
        }

        private void last() {
            if (users.decrementAndGet() == 0) {
                fd.close();
                finished(pod, List.copyOf(counted), List.copyOf(done));
            }
        }
    }
}
