package io.vmhandler.core.checkpoint;

import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Per-VMI records that must survive a daemon restart, one file {@code <uid>.json} per VMI under one
 * directory (KubeVirt keeps its ghost records the same way, one file per VMI UID under
 * /var/run/kubevirt-private/ghost-records). Memory is the source of truth while running; each
 * change is written through to disk atomically.
 *
 * <p>Never crashes the daemon over its files: a torn or corrupt file is reported and ignored, and
 * when the directory cannot be written (read-only filesystem, full disk) the store goes
 * <em>degraded</em>: it keeps working in memory, remembers what is not on disk yet, reports it in
 * {@link #health()}, and writes it out on the next successful {@link #put}/{@link #remove}/
 * {@link #flush}, or on its own once {@link #retryWhileDegraded} is on. The only hard failure is an unsafe directory ({@link RefusedDirectoryException}).
 *
 * <p>Thread-safe; methods are serialized and those that write block on disk I/O with fsync (a few
 * milliseconds). Call from worker threads, not from informer callbacks.
 */
public final class CheckpointStore implements Checkpoints, Closeable {
    private static final Logger log = LoggerFactory.getLogger(CheckpointStore.class);

    private final Path path;
    private CheckpointDir dir;
    private final Map<String, CheckpointRecord> records = new TreeMap<>();
    /** UIDs whose memory state is not on disk yet (a write or a delete). */
    private final Set<String> pending = new LinkedHashSet<>();
    private final List<String> corrupt = new ArrayList<>();
    private String degradedReason;
    /** Uid prefixes of records written without fsync ({@link #withoutFsync}). */
    private final Set<String> unsynced = new HashSet<>();
    /** Uids whose pending write goes without fsync ({@link #putWithoutFsync}); any durable change clears it. */
    private final Set<String> unsyncedOnce = new HashSet<>();
    private ScheduledExecutorService retry;
    /** Uids whose file is on disk as far as this store knows: loaded, or written and not deleted since. */
    private final Set<String> onDisk = new HashSet<>();
    private Executor disposal = Runnable::run;

    private CheckpointStore(Path path) {
        this.path = path;
    }

    /**
     * Opens (creating it 0700 if needed) the directory and loads every readable record. A
     * directory that cannot be created or opened gives a degraded, empty store.
     *
     * @throws RefusedDirectoryException when {@code path} is a symlink, not a directory, or
     *     owned by another user
     */
    public static CheckpointStore open(Path path) throws RefusedDirectoryException {
        CheckpointStore s = new CheckpointStore(path.toAbsolutePath().normalize());
        synchronized (s) {
            s.tryOpenDir();
        }
        return s;
    }

    /** The record of {@code uid}, if any. */
    @Override
    public synchronized Optional<CheckpointRecord> get(String uid) {
        return Optional.ofNullable(records.get(CheckpointRecord.checkUid(uid)));
    }

    /** Every record, ordered by uid: what to reconcile or clean up after a restart. */
    @Override
    public synchronized List<CheckpointRecord> list() {
        return List.copyOf(records.values());
    }

    /**
     * Stores {@code record}, replacing the previous one of its uid. Returns true when it is on
     * disk, false when it is kept in memory only (the store is then degraded). A record equal to
     * the stored one is not written again, so calling this on every reconcile is cheap; a real
     * write costs an fsync of the file and of the directory (about 10 ms on a busy ext4).
     */
    @Override
    public synchronized boolean put(CheckpointRecord record) {
        return putLocked(record, true);
    }

    /**
     * {@link #put} written atomically but without fsync, like the records of {@link #withoutFsync}, for this write
     * only: a later {@link #put} of the uid is durable again (and carries this change to the disk with it).
     */
    @Override
    public synchronized boolean putWithoutFsync(CheckpointRecord record) {
        return putLocked(record, false);
    }

    private boolean putLocked(CheckpointRecord record, boolean durable) {
        Objects.requireNonNull(record, "record");
        String uid = record.uid();
        if (record.equals(records.get(uid)) && !pending.contains(uid)) {
            return true;
        }
        records.put(uid, record);
        if (durable) {
            unsyncedOnce.remove(uid);
        } else if (!pending.contains(uid)) {
            unsyncedOnce.add(uid); // a durable write still pending stays durable
        }
        pending.add(uid);
        return flushLocked() && !pending.contains(uid);
    }

    /**
     * Forgets {@code uid}. Returns true when its file is gone from disk too (or never existed);
     * false when the delete is pending (degraded).
     */
    @Override
    public synchronized boolean remove(String uid) {
        CheckpointRecord.checkUid(uid);
        records.remove(uid);
        pending.add(uid);
        unsyncedOnce.remove(uid);
        return flushLocked() && !pending.contains(uid);
    }

    /**
     * From now on, records whose uid starts with {@code uidPrefix} are written and removed without fsync: still
     * atomically (temp file and rename), so they survive the daemon's death (SIGKILL, OOM) but not a crash of the
     * node. For state that a reboot makes moot, on a path that cannot wait for the disk (the background tap
     * deleter's record, written on Release's path: the taps it names live in a pod netns no reboot keeps).
     */
    public synchronized void withoutFsync(String uidPrefix) {
        unsynced.add(Objects.requireNonNull(uidPrefix, "uidPrefix"));
    }

    /** Retries whatever is not on disk yet (e.g. after a read-only filesystem was remounted rw). */
    public synchronized boolean flush() {
        return flushLocked();
    }

    /**
     * From now until {@link #close()}, retries the pending writes every {@code period} while the
     * store is degraded, on a daemon thread of its own: state kept in memory while the directory
     * was read-only or full reaches the disk once it can, even if nothing changes meanwhile. A
     * retry that fails again stays quiet (the degradation was logged once). Idempotent.
     */
    public synchronized void retryWhileDegraded(Duration period) {
        if (retry != null) {
            return;
        }
        long ms = period.toMillis();
        if (ms <= 0) {
            throw new IllegalArgumentException("period must be positive, got " + period);
        }
        retry = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "checkpoint-retry");
            t.setDaemon(true);
            return t;
        });
        retry.scheduleWithFixedDelay(() -> {
            synchronized (this) {
                if (degradedReason != null) {
                    flushLocked();
                }
            }
        }, ms, ms, TimeUnit.MILLISECONDS);
    }

    /** Whether some state is held only in memory. Cheap; fine for a metrics callback. */
    public synchronized boolean degraded() {
        return degradedReason != null;
    }

    /** How many files were found corrupt and ignored since open. Cheap. */
    public synchronized int corruptFiles() {
        return corrupt.size();
    }

    public synchronized Health health() {
        return new Health(path, degradedReason != null, degradedReason, pending.size(), List.copyOf(corrupt));
    }

    /**
     * The store's state for logs, metrics and the doctor.
     *
     * @param degradedReason why state is held in memory only; null when all is on disk
     * @param pending records (writes or deletes) not on disk yet
     * @param corrupt file names that were ignored, each with the reason
     */
    public record Health(Path directory, boolean degraded, String degradedReason, int pending, List<String> corrupt) {}

    @Override
    public synchronized void close() throws IOException {
        if (retry != null) {
            retry.shutdownNow();
            retry = null;
        }
        if (dir != null) {
            dir.close();
            dir = null;
        }
    }

    private boolean tryOpenDir() throws RefusedDirectoryException {
        try {
            dir = CheckpointDir.open(path);
            dir.disposeWith(disposal);
        } catch (RefusedDirectoryException e) {
            throw e;
        } catch (IOException e) {
            degrade("cannot open " + path + ": " + e);
            return false;
        }
        try {
            int tmp = dir.removeTempFiles();
            if (tmp > 0) {
                log.atInfo().addKeyValue("dir", path).addKeyValue("removed", tmp).log("removed temp files of interrupted checkpoint writes");
            }
        } catch (IOException e) {
            // a read-only directory still loads fine; the leftovers are skipped by list()
            log.atDebug().addKeyValue("dir", path).log("cannot remove checkpoint temp files: " + e);
        }
        try {
            load();
        } catch (IOException e) {
            degrade("cannot list " + path + ": " + e);
        }
        return true;
    }

    private void load() throws IOException {
        List<String> odd = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (String name : dir.list(odd)) {
            String uid = name.substring(0, name.length() - CheckpointDir.SUFFIX.length());
            seen.add(uid);
            onDisk.add(uid);
            if (records.containsKey(uid) || pending.contains(uid)) {
                continue; // memory is newer (loaded late after a degraded start)
            }
            try {
                CheckpointRecord.checkUid(uid);
                records.put(uid, CheckpointCodec.decode(dir.read(name, CheckpointCodec.MAX_BYTES), uid));
            } catch (CorruptCheckpointException | IOException | IllegalArgumentException e) {
                reportCorrupt(name, e.getMessage());
            }
        }
        for (String name : odd) {
            reportCorrupt(name, "not a regular *.json file");
        }
        log.atInfo().addKeyValue("dir", path).addKeyValue("records", records.size()).addKeyValue("corrupt", corrupt.size())
                .log("checkpoints loaded");
    }

    private void reportCorrupt(String name, String why) {
        corrupt.add(name + ": " + why);
        log.atWarn().addKeyValue("dir", path).addKeyValue("file", name).addKeyValue("reason", why)
                .log("ignoring unreadable checkpoint file; its VMI is rebuilt from the API and the host");
    }

    private boolean flushLocked() {
        if (dir == null) {
            try {
                if (!tryOpenDir()) {
                    return false;
                }
            } catch (RefusedDirectoryException e) {
                degrade(e.getMessage());
                return false;
            }
        }
        for (String uid : List.copyOf(pending)) {
            String name = uid + CheckpointDir.SUFFIX;
            CheckpointRecord r = records.get(uid);
            try {
                boolean sync = !unsyncedOnce.contains(uid) && unsynced.stream().noneMatch(uid::startsWith);
                if (r != null) {
                    dir.writeAtomically(name, CheckpointCodec.encode(r), sync, onDisk.contains(uid));
                    onDisk.add(uid);
                } else {
                    dir.delete(name, sync);
                    onDisk.remove(uid);
                }
                pending.remove(uid);
                unsyncedOnce.remove(uid);
            } catch (IOException e) {
                degrade("cannot write " + path.resolve(name) + ": " + e);
                return false;
            }
        }
        if (degradedReason != null) {
            log.atInfo().addKeyValue("dir", path).log("checkpoint directory writable again; all records are on disk");
            degradedReason = null;
        }
        return true;
    }

    private void degrade(String reason) {
        if (degradedReason == null) {
            log.atError().addKeyValue("dir", path).addKeyValue("reason", reason).addKeyValue("pending", pending.size())
                    .log("checkpoints degraded: keeping state in memory only until the directory is writable");
        }
        degradedReason = reason;
    }

    /**
     * Where the unlink of a replaced record's old content runs (CheckpointDir: a replacement is an exchange, and the
     * unlink is what frees the old inode, up to 0.4 ms on ext4). The daemon gives the launcher call's after-reply
     * executor, so a call that writes a record replies first. At once by default and outside a call.
     */
    public synchronized void disposeReplacedWith(Executor executor) {
        this.disposal = Objects.requireNonNull(executor, "executor");
        if (dir != null) {
            dir.disposeWith(executor);
        }
    }
}
