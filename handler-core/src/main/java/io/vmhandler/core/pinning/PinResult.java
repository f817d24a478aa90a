package io.vmhandler.core.pinning;

import io.vmhandler.cgroups.Housekeeping;
import java.util.BitSet;
import java.util.List;
import java.util.Optional;

/**
 * What one pin did: the vCPU → CPU map, the housekeeping set with its threads and cgroup, what
 * was skipped and why, and how many threads had to change (0 on an idempotent re-pin).
 *
 * @param cpusSource where {@code cpus} came from: "cgroup" (the pod cpuset) or "--cpus"
 * @param kvmPit the VM's kvm-pit kernel thread, given vCPU 0's CPUs (dedicated placement, KVM only)
 * @param pidGone the process exited (or its pid was reused) before the pin finished
 */
public record PinResult(int pid, String vmi, boolean dedicated, BitSet cpus, String cpusSource, List<VcpuPin> vcpus,
        BitSet housekeepingCpus, List<Integer> housekeepingTids, Optional<Housekeeping> housekeepingCgroup,
        Optional<PitPin> kvmPit, List<Skip> skipped, int changed, int unchanged, boolean pidGone, long elapsedNanos) {

    /** One pinned vCPU thread. {@code realtime} is true when it runs SCHED_FIFO after this pin. */
    public record VcpuPin(int vcpu, int tid, BitSet cpus, boolean changed, boolean realtime) {}

    /** The kvm-pit kernel thread (a host tid: never shown to a pod). {@code realtime}: SCHED_FIFO 2. */
    public record PitPin(int tid, BitSet cpus, boolean changed, boolean realtime) {}

    public PinResult {
        vcpus = List.copyOf(vcpus);
        housekeepingTids = List.copyOf(housekeepingTids);
        skipped = List.copyOf(skipped);
    }

    /** Every vCPU of the VMI is pinned as asked and the process is still there. */
    public boolean complete() {
        return !pidGone && skipped.stream().noneMatch(Skip::vcpu);
    }
}
