package io.vmhandler.core.memlock;

import io.vmhandler.nativeio.RLimit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** {@link MemlockLimits} in a map pid → limit, with a log of every apply. Thread-safe. */
public final class FakeMemlockLimits implements MemlockLimits {
    private final Map<Integer, Long> limits = new ConcurrentHashMap<>();
    private final List<String> log = new ArrayList<>();

    @Override
    public synchronized MemlockApplier.Applied apply(int pid, long limit) {
        RLimit before = RLimit.of(limits.getOrDefault(pid, 8L << 20));
        if (limit != 0) {
            limits.put(pid, limit);
        }
        log.add(pid + "=" + limit);
        return new MemlockApplier.Applied(pid, limit, before, RLimit.of(limits.getOrDefault(pid, 8L << 20)));
    }

    /** "pid=limit" per apply, in order. */
    public synchronized List<String> log() {
        return List.copyOf(log);
    }
}
