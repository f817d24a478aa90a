package io.vmhandler.core.launcher;

import io.vmhandler.core.pinning.PinResult;
import io.vmhandler.core.pinning.Pinner;
import io.vmhandler.core.plan.VmiPlan;
import io.vmhandler.proc.ProcessRef;
import java.io.IOException;

/**
 * PinVcpus: the placement comes from the caller's VMI plan and its pod's cpuset, never from the
 * request; the request only names the QEMU process (in the caller's pid namespace), which must be in
 * the caller's pod. Stateless and thread-safe.
 */
public final class LauncherPinning {
    private final LauncherCallers resolver;
    private final Pinner pinner;

    public LauncherPinning(LauncherCallers resolver, Pinner pinner) {
        this.resolver = resolver;
        this.pinner = pinner;
    }

    /** The pin result and the start time of the QEMU it was applied to (for the checkpoint). */
    public record Outcome(long qemuStartTime, PinResult result) {}

    public Outcome pin(LauncherContext ctx, VmiPlan plan, int nsPid) throws IOException {
        try (ProcessRef qemu = resolver.target(ctx, nsPid)) {
            qemu.verifyUnchanged();
            // refuse before anything changes: a process with no vCPU threads is not (yet) a running QEMU, and
            // pinning it would still create the housekeeping cgroup and move its threads there
            if (!pinner.hasVcpuThreads(qemu.pid())) {
                throw new InvalidRequestException("qemu_pid", "qemu_pid " + nsPid + " has no vCPU threads ('CPU n/KVM'"
                        + " or 'CPU n/TCG'): not a QEMU started with -name ...,debug-threads=on, or its vCPUs are not"
                        + " created yet");
            }
            PinResult r = pinner.pin(qemu.pid(), plan.key(), plan.placement());
            qemu.verifyUnchanged();
            return new Outcome(qemu.info().startTime(), r);
        }
    }
}
