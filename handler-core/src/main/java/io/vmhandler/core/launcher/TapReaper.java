package io.vmhandler.core.launcher;

import io.vmhandler.core.checkpoint.CheckpointRecord;
import io.vmhandler.core.checkpoint.Checkpoints;
import io.vmhandler.core.metrics.DaemonMetrics;
import io.vmhandler.core.metrics.PrivilegedOp;
import io.vmhandler.nativeio.Fd;
import io.vmhandler.net.TapDevices;
import io.vmhandler.net.TapQos;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deletes released taps after Release has answered. Release takes a tap out of the pod's use at once by setting
 * it down and renaming it to a tombstone name ({@link TapDevices#retireAll}: no wait for the device to be freed,
 * and the old name is free for the next PrepareNetwork of the pod); the RTM_DELLINK that does wait for RCU in unregister_netdevice
 * (about 16 ms per tap here) runs here, on a small pool of background threads.
 *
 * <p>Why a pool and one deletion per task: on this kernel (6.18) deletions of different taps from different
 * threads overlap (40 `ip link del` in parallel: 200 ms; one after the other: 1637 ms, docs/launcher-api.md
 * §3.5), so a few threads drain a burst of Releases in a fraction of the sequential time. A group deletion
 * (RTM_DELLINK by IFLA_GROUP) was measured too (240 ms for 40) but would delete every link of that group in
 * the pod's netns, not only the ones recorded here.
 *
 * <p>Checkpoint: before the first tap of a Release is renamed, {@link #plan} writes one record per pod (uid
 * {@code tap-reap.<pod uid>}, separate from the VMI records, which the reconciler removes with the VMI) holding
 * the pod uid, the caller's host pid and start time (to find the netns again after a restart) and one field per
 * tombstone ({@code tombstone.<name>} = the tap's name). Tombstones are forgotten once the kernel has deleted them
 * (or they are found gone), one checkpoint write per Release's batch, and the record is removed with its last
 * tombstone. {@link #resume} finishes the
 * recorded deletions of a previous run: in the netns of the recorded process if it still is that process
 * (same start time), else of any process of the pod, found by its cgroup; with no process of the pod left its
 * netns and taps are gone with it and the record is dropped. Only tombstone names recorded here are ever
 * deleted, and only if they are taps.
 *
 * <p>Each hand-over ({@link #reap}) owns the pod's netns fd that Release opened from the caller's pidfd, so a
 * caller that exits right after Release does not matter; the fd is closed after the hand-over's last deletion.
 *
 * <p>Bounds: {@code workers} threads and a queue of {@code queue} deletions; when the queue is full the deletion
 * runs on the releasing thread (the Release then waits for the kernel, as it did before this class existed). A
 * pod with {@link #MAX_PENDING_PER_POD} tombstones pending gets no more: {@link #plan} returns empty and the
 * caller deletes synchronously, which keeps the pod's record within the checkpoint's field limit.
 *
 * <p>Threading: every method is thread-safe. Record updates are read-modify-write under one lock, so a Release
 * of a pod while its earlier deletions (or {@link #resume}) complete never loses a tombstone. {@link #close()}
 * drains for up to {@link #DRAIN}, then abandons the rest, which stays checkpointed for the next start.
 */
public final class TapReaper implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TapReaper.class);

    /** Checkpoint uids of the pending deletions: this prefix and the pod uid. */
    public static final String RECORD_PREFIX = "tap-reap.";
    static final String POD = "pod";
    static final String PID = "pid";
    static final String START = "start";
    static final String TOMBSTONE = "tombstone.";
    /** 7 characters and 8 hex digits: 15 bytes, IFNAMSIZ - 1. */
    static final String TOMBSTONE_NAME = "vmhdel-";
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

    private final TapDevices taps;
    private final TapQos qos;
    private final Checkpoints store;
    private final DaemonMetrics metrics;
    private final ThreadPoolExecutor pool;
    private final AtomicInteger pending = new AtomicInteger();
    private final Object records = new Object();

    /**
     * @param taps    the tap devices the deletions run on (their own netns workers, so a burst of deletions never
     *                delays a launcher call's netns work)
     * @param metrics times each deletion as {@link PrivilegedOp#TAP_REAP}; null: not timed
     */
    public TapReaper(TapDevices taps, Checkpoints store, DaemonMetrics metrics, int workers, int queue) {
        this(taps, null, store, metrics, workers, queue);
    }

    /**
     * @param qos removes a tombstone's bandwidth limits before its deletion (null: taps without limits only). Release
     *            leaves them on the retired tap: its qdiscs die with it, but the ifb that carries its from-guest
     *            limit is a device of its own that would outlive it (docs/tap-qos.md)
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

    /** Deletions handed over and not finished yet (the pending-deletions gauge). */
    public int pending() {
        return pending.get();
    }

    /**
     * Names a fresh tombstone for each of {@code names} and records them for the pod before anything is renamed,
     * so a daemon killed after the rename still knows them. Returns tombstone → tap name, in the order of
     * {@code names}; empty when the pod already has {@link #MAX_PENDING_PER_POD} pending (then delete at once).
     *
     * @param pid       the caller's host pid, and {@code startTime} its start time (/proc/PID/stat field 22)
     */
    public Optional<Map<String, String>> plan(String podUid, int pid, long startTime, List<String> names) {
        Map<String, String> planned = new LinkedHashMap<>();
        synchronized (records) {
            String uid = RECORD_PREFIX + podUid;
            CheckpointRecord r = store.get(uid).orElse(CheckpointRecord.empty(uid));
            if (tombstones(r).size() + names.size() > MAX_PENDING_PER_POD) {
                return Optional.empty();
            }
            r = r.with(POD, podUid).with(PID, Integer.toString(pid)).with(START, Long.toString(startTime));
            for (String name : names) {
                String t;
                do {
                    t = TOMBSTONE_NAME + String.format("%08x", ThreadLocalRandom.current().nextInt());
                } while (r.get(TOMBSTONE + t).isPresent());
                planned.put(t, name);
                r = r.with(TOMBSTONE + t, name);
            }
            store.put(r);
        }
        return Optional.of(planned);
    }

    /**
     * Takes over {@code netns} (closed after the last deletion) and deletes the {@code retired} tombstones in the
     * background ({@code netns} may be null when nothing was retired); the other tombstones {@link #plan} named
     * ({@code planned} minus {@code retired}: taps that were already gone, or a Release that failed midway) are
     * forgotten at once. Never throws for a deletion.
     */
    public void reap(String podUid, Fd netns, Collection<String> planned, Collection<String> retired) {
        List<String> unused = new ArrayList<>(planned);
        unused.removeAll(retired);
        forget(podUid, unused);
        if (retired.isEmpty()) {
            if (netns != null) {
                netns.close();
            }
            return;
        }
        Handover h = new Handover(podUid, netns, retired.size());
        for (String t : retired) {
            pending.incrementAndGet();
            try {
                pool.execute(new Deletion(h, t, System.nanoTime()));
            } catch (java.util.concurrent.RejectedExecutionException e) {
                // shut down: the tombstone stays checkpointed for the next start
                pending.decrementAndGet();
                h.release();
            }
        }
    }

    /**
     * Finishes the deletions a previous run recorded, on the pool (alongside the first reconcile). Returns how
     * many records there were.
     */
    public int resume(NetnsLocator locator) {
        List<CheckpointRecord> found = new ArrayList<>();
        for (CheckpointRecord r : store.list()) {
            if (r.uid().startsWith(RECORD_PREFIX)) {
                found.add(r);
            }
        }
        for (CheckpointRecord r : found) {
            pending.incrementAndGet();
            try {
                pool.execute(() -> {
                    try {
                        resumeOne(r, locator);
                    } finally {
                        pending.decrementAndGet();
                    }
                });
            } catch (java.util.concurrent.RejectedExecutionException e) {
                pending.decrementAndGet();
            }
        }
        if (!found.isEmpty()) {
            log.atInfo().addKeyValue("records", found.size())
                    .log("finishing the tap deletions of {} pod(s) left by the previous run", found.size());
        }
        return found.size();
    }

    private void resumeOne(CheckpointRecord r, NetnsLocator locator) {
        String pod = r.get(POD).orElse(r.uid().substring(RECORD_PREFIX.length()));
        List<String> tombs = tombstones(r);
        try {
            int pid = Integer.parseInt(r.get(PID).orElse("0"));
            long start = Long.parseLong(r.get(START).orElse("-1"));
            Optional<Fd> netns = pid > 0 ? locator.open(pod, pid, start) : Optional.empty();
            if (netns.isEmpty()) {
                log.atInfo().addKeyValue("pod", pod).addKeyValue("tombstones", tombs.size())
                        .log("pod {} has no process left: its netns and its {} retired tap(s) are gone with it", pod,
                                tombs.size());
                forget(pod, tombs);
                return;
            }
            List<String> done = new ArrayList<>();
            try (Fd fd = netns.get()) {
                for (String t : tombs) {
                    if (deleteNow(pod, fd, t, System.nanoTime())) {
                        done.add(t);
                    }
                }
            }
            forget(pod, done);
        } catch (IOException | RuntimeException e) {
            log.atError().addKeyValue("pod", pod).setCause(e)
                    .log("finishing the tap deletions of pod {} failed, kept for the next start: {}", pod, e.getMessage());
        }
    }

    /**
     * One kernel deletion; true on success or for a tombstone already gone (the caller then forgets it: a
     * hand-over's tombstones leave the record together, one checkpoint write, and deleting one again after a
     * restart finds it gone, which is fine).
     */
    private boolean deleteNow(String pod, Fd netns, String tombstone, long handedOver) {
        long t0 = System.nanoTime();
        Throwable failure = null;
        try {
            removeLimits(netns, tombstone);
            boolean existed = taps.delete(netns, tombstone);
            log.atDebug().addKeyValue("pod", pod).addKeyValue("tombstone", tombstone).addKeyValue("existed", existed)
                    .addKeyValue("waitedMs", (t0 - handedOver) / 1_000_000)
                    .log("deleted retired tap {} of pod {}", tombstone, pod);
            return true;
        } catch (IOException | RuntimeException e) {
            failure = e;
            log.atError().addKeyValue("pod", pod).addKeyValue("tombstone", tombstone).setCause(e)
                    .log("deleting retired tap {} of pod {} failed, kept for the next start: {}", tombstone, pod,
                            e.getMessage());
            return false;
        } finally {
            if (metrics != null) {
                metrics.record(PrivilegedOp.TAP_REAP, Duration.ofNanos(System.nanoTime() - t0), failure);
            }
        }
    }

    /**
     * The ifb is named after the tap's ifindex, which the rename kept, so it is found from the tombstone; it goes
     * before the tap, while that index cannot have been given to another device. A tombstone already gone had its
     * ifb removed before it (this order), or had none.
     */
    private void removeLimits(Fd netns, String tombstone) throws IOException {
        LauncherNetwork.removeQos(qos, netns, tombstone);
    }

    private void forget(String pod, Collection<String> tombs) {
        if (tombs.isEmpty()) {
            return;
        }
        synchronized (records) {
            String uid = RECORD_PREFIX + pod;
            Optional<CheckpointRecord> r = store.get(uid);
            if (r.isEmpty()) {
                return;
            }
            CheckpointRecord next = r.get();
            for (String t : tombs) {
                next = next.without(TOMBSTONE + t);
            }
            if (tombstones(next).isEmpty()) {
                store.remove(uid);
            } else {
                store.put(next);
            }
        }
    }

    static List<String> tombstones(CheckpointRecord r) {
        List<String> out = new ArrayList<>();
        for (String k : r.fields().keySet()) {
            if (k.startsWith(TOMBSTONE)) {
                out.add(k.substring(TOMBSTONE.length()));
            }
        }
        return out;
    }

    /**
     * Stops taking deletions, waits up to {@link #DRAIN} for the queued ones, then abandons the rest: their
     * tombstones stay checkpointed and the next start deletes them.
     */
    @Override
    public void close() {
        pool.shutdown();
        try {
            if (!pool.awaitTermination(DRAIN.toMillis(), TimeUnit.MILLISECONDS)) {
                List<Runnable> left = pool.shutdownNow();
                for (Runnable r : left) {
                    if (r instanceof Deletion d) {
                        pending.decrementAndGet();
                        d.handover.release();
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

    /** One tombstone to delete, queued on the pool. */
    private final class Deletion implements Runnable {
        final Handover handover;
        final String tombstone;
        final long handedOver;

        Deletion(Handover handover, String tombstone, long handedOver) {
            this.handover = handover;
            this.tombstone = tombstone;
            this.handedOver = handedOver;
        }

        @Override
        public void run() {
            try {
                if (deleteNow(handover.pod, handover.fd, tombstone, handedOver)) {
                    handover.done.add(tombstone);
                }
            } finally {
                pending.decrementAndGet();
                handover.release();
            }
        }
    }

    /**
     * One Release's tombstones: they share its netns fd, closed by the last deletion, which also forgets the
     * deleted ones from the checkpoint in one write.
     */
    private final class Handover {
        final String pod;
        final Fd fd;
        final java.util.Queue<String> done = new java.util.concurrent.ConcurrentLinkedQueue<>();
        private final AtomicInteger users;

        Handover(String pod, Fd fd, int users) {
            this.pod = pod;
            this.fd = fd;
            this.users = new AtomicInteger(users);
        }

        void release() {
            if (users.decrementAndGet() == 0) {
                fd.close();
                forget(pod, List.copyOf(done));
            }
        }
    }
}
