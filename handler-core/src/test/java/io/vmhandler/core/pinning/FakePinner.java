package io.vmhandler.core.pinning;

import io.vmhandler.core.plan.CpuPlacement;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * {@link Pinner} that records what it was asked: vCPU i of a pid "pinned" to CPU i. Pids in
 * {@link #qemus} have vCPU threads; others do not. Thread-safe.
 */
public final class FakePinner implements Pinner {
    public final Set<Integer> qemus = ConcurrentHashMap.newKeySet();
    /** When set, every pin throws it (what the host pinner throws for a pod without cpuset, say). */
    public volatile RuntimeException failure;
    private final List<String> log = new ArrayList<>();

    @Override
    public synchronized PinResult pin(int pid, String vmi, CpuPlacement placement) {
        if (failure != null) {
            throw failure;
        }
        log.add(pid + ":" + placement.vcpus());
        List<PinResult.VcpuPin> pins = new ArrayList<>();
        BitSet all = new BitSet();
        for (int v = 0; v < placement.vcpus(); v++) {
            BitSet c = new BitSet();
            c.set(v);
            all.set(v);
            pins.add(new PinResult.VcpuPin(v, pid, c, true, false));
        }
        return new PinResult(pid, vmi, placement.dedicated(), all, "cgroup", pins, null, List.of(), Optional.empty(),
                Optional.empty(), List.of(), pins.size(), 0, false, 0);
    }

    @Override
    public boolean hasVcpuThreads(int pid) {
        return qemus.contains(pid);
    }

    /** "pid:vcpus" per pin, in order. */
    public synchronized List<String> log() {
        return List.copyOf(log);
    }
}
