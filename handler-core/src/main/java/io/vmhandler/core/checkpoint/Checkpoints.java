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

    /** Removes the record of {@code uid}; false when the removal is kept in memory only. */
    boolean remove(String uid);
}
