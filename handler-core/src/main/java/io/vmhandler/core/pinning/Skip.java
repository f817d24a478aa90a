package io.vmhandler.core.pinning;

/**
 * Something the pinner did not do, and why. {@code vcpu} marks a vCPU that is not pinned as the
 * VMI asks, which makes the pin incomplete; the other skips are informational.
 *
 * @param subject what was skipped, e.g. "vcpu 2", "tid 4711", "housekeeping cgroup"
 * @param tid the thread concerned, or -1
 */
public record Skip(String subject, int tid, Reason reason, String detail, boolean vcpu) {
    public enum Reason {
        /** The pod cpuset has fewer CPUs than the VMI has vCPUs. */
        NOT_ENOUGH_CPUS,
        /** No CPU is left for isolateEmulatorThread after the vCPUs. */
        NO_ISOLATED_CPU,
        /** QEMU has no thread for a vCPU of the VMI. */
        NO_VCPU_THREAD,
        /** QEMU has a vCPU thread beyond the VMI's vCPU count; it is left alone. */
        EXTRA_VCPU_THREAD,
        /** Two threads claim the same vCPU index; the later one is treated as an emulator thread. */
        DUPLICATE_VCPU_THREAD,
        /** The thread exited (or its tid was reused) between discovery and pinning. */
        THREAD_GONE,
        /** The kernel refused the affinity, cgroup move or scheduler change. */
        KERNEL_REFUSED,
        /** The housekeeping cgroup could not be used. */
        NO_HOUSEKEEPING_CGROUP,
        /** Several VMs of the same pid number were created together: their kvm-pit threads cannot be told apart. */
        AMBIGUOUS_KVM_PIT;

        public String label() {
            return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
        }
    }

    public static Skip vcpu(int index, int tid, Reason reason, String detail) {
        return new Skip("vcpu " + index, tid, reason, detail, true);
    }

    public static Skip thread(int tid, Reason reason, String detail) {
        return new Skip("tid " + tid, tid, reason, detail, false);
    }

    public static Skip other(String subject, Reason reason, String detail) {
        return new Skip(subject, -1, reason, detail, false);
    }

    @Override
    public String toString() {
        return subject + (tid >= 0 && !subject.startsWith("tid") ? " (tid " + tid + ")" : "") + ": " + reason.label()
                + ": " + detail;
    }
}
