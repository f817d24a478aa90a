package io.vmhandler.core.checkpoint;

import java.util.List;
import java.util.Optional;

/**
 * Per-VMI records that outlive a daemon restart ({@link CheckpointStore} on disk; an in-memory fake in
 * tests). Implementations are thread-safe; each method is atomic on its own.
 */
public interface Checkpoints {
    Optional<CheckpointRecord> get(String uid);

    /** Every record, ordered by uid. */
    List<CheckpointRecord> list();

    /** Stores {@code record}, replacing the previous one of its uid; false when it is kept in memory only. */
    boolean put(CheckpointRecord record);

    /**
     * {@link #put}, but the write need not survive a crash of the node, only the daemon's death: for a change a
     * reboot makes moot, on a path that cannot wait for the disk. This default is a durable {@link #put}.
     */
    default boolean putWithoutFsync(CheckpointRecord record) {
        return put(record);
    }

    /** Removes the record of {@code uid}; false when the removal is kept in memory only. */
    boolean remove(String uid);
}
