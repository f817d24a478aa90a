package io.vmhandler.core.checkpoint;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/** {@link Checkpoints} in a map: every write "reaches disk". Thread-safe (synchronized). */
public final class InMemoryCheckpoints implements Checkpoints {
    private final Map<String, CheckpointRecord> records = new TreeMap<>();

    @Override
    public synchronized Optional<CheckpointRecord> get(String uid) {
        return Optional.ofNullable(records.get(CheckpointRecord.checkUid(uid)));
    }

    @Override
    public synchronized List<CheckpointRecord> list() {
        return List.copyOf(records.values());
    }

    @Override
    public synchronized boolean put(CheckpointRecord record) {
        records.put(record.uid(), record);
        return true;
    }

    @Override
    public synchronized boolean remove(String uid) {
        records.remove(uid);
        return true;
    }
}
