package io.vmhandler.core.pinning;

import io.vmhandler.core.plan.CpuPlacement;

import java.io.IOException;

/**
 * Pins a QEMU's threads per a VMI's placement ({@link VcpuPinner} on the host; an in-memory fake in
 * tests). Implementations must be safe to call from several threads for different pids.
 */
public interface Pinner {
    /** Pins the vCPU threads of {@code pid} (found by name) to the pod cpuset per {@code placement}. */
    PinResult pin(int pid, String vmi, CpuPlacement placement) throws IOException;

    /** Whether {@code pid} has vCPU threads yet ("CPU n/KVM", "CPU n/TCG"): i.e. is a running QEMU. */
    boolean hasVcpuThreads(int pid) throws IOException;
}
