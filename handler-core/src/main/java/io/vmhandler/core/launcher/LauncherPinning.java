package io.vmhandler.core.launcher;

import io.vmhandler.core.pinning.CpuPlacement;
import io.vmhandler.core.pinning.PinResult;
import io.vmhandler.core.pinning.VcpuPinner;
import java.io.IOException;

/**
 * PinVcpus: the placement comes from the caller's VMI and its pod's cpuset, never from the request;
 * the request only names the QEMU process (in the caller's pid namespace), which must be in the
 * caller's pod.
 */
public final class LauncherPinning {
    private final CallerResolver resolver;
    private final VcpuPinner pinner;

    public LauncherPinning(CallerResolver resolver, VcpuPinner pinner) {
        this.resolver = resolver;
        this.pinner = pinner;
    }

    /** The pin result and the start time of the QEMU it was applied to (for the checkpoint). */
    public record Outcome(long qemuStartTime, PinResult result) {}

    public Outcome pin(LauncherContext ctx, int nsPid) throws IOException {
        CpuPlacement placement = CpuPlacement.from(ctx.vmi());
        try (ProcessRef qemu = resolver.target(ctx, nsPid)) {
            qemu.verifyUnchanged();
            PinResult r = pinner.pin(qemu.pid(), ctx.vmi().key(), placement, null, null);
            qemu.verifyUnchanged();
            return new Outcome(qemu.info().startTime(), r);
        }
    }
}
