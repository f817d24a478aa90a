package io.vmhandler.grpc;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * What PinVcpus did. Thread ids are in the caller's pid namespace, like the pid in the request.
 *
 * @param qemuPid the QEMU process, as named in the request
 * @param vcpus the vCPU threads pinned, by vCPU index
 * @param emulatorCpus the housekeeping CPUs the emulator and I/O threads were moved to, ascending
 * @param emulatorTids the threads moved to {@code emulatorCpus}
 * @param skipped what was not pinned, and why
 * @param kvmPit the VM's kvm-pit kernel thread's new placement, if it was pinned
 */
public record PinResult(int qemuPid, List<VcpuPin> vcpus, List<Integer> emulatorCpus, List<Integer> emulatorTids,
                        List<Skipped> skipped, Optional<KvmPit> kvmPit) {
    public PinResult {
        vcpus = List.copyOf(vcpus);
        emulatorCpus = List.copyOf(emulatorCpus);
        emulatorTids = List.copyOf(emulatorTids);
        skipped = List.copyOf(skipped);
        Objects.requireNonNull(kvmPit, "kvmPit");
    }

    /** Without a kvm-pit placement (shared placement, TCG). */
    public PinResult(int qemuPid, List<VcpuPin> vcpus, List<Integer> emulatorCpus, List<Integer> emulatorTids,
                     List<Skipped> skipped) {
        this(qemuPid, vcpus, emulatorCpus, emulatorTids, skipped, Optional.empty());
    }

    /** The kvm-pit kernel thread's placement; a host kernel thread, so no tid. */
    public record KvmPit(List<Integer> cpus, SchedPolicy policy, int priority) {
        public KvmPit {
            cpus = List.copyOf(cpus);
            Objects.requireNonNull(policy, "policy");
        }
    }

    /** Scheduling policy left on a vCPU thread. */
    public enum SchedPolicy { OTHER, FIFO }

    /**
     * One pinned vCPU thread.
     *
     * @param cpus the CPUs it may run on now, ascending (one for dedicated placement)
     * @param priority the SCHED_FIFO priority (1-99), 0 for {@link SchedPolicy#OTHER}
     */
    public record VcpuPin(int vcpu, int tid, List<Integer> cpus, SchedPolicy policy, int priority) {
        public VcpuPin {
            cpus = List.copyOf(cpus);
            Objects.requireNonNull(policy, "policy");
        }
    }
}
