package io.vmhandler.core.launcher;

import io.vmhandler.core.memlock.MemlockApplier;
import io.vmhandler.core.memlock.MemlockLimits;
import io.vmhandler.core.plan.VmiPlan;
import io.vmhandler.memlock.LibvirtVersion;
import io.vmhandler.memlock.MemlockFormula;
import io.vmhandler.memlock.MemlockResult;
import io.vmhandler.nativeio.LinuxConstants;
import io.vmhandler.proc.ProcessRef;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * SetMemoryLock: the limit comes from the caller's VMI plan and libvirt's formula, never from the
 * request; the request only names which process of the caller's pod (usually libvirtd/virtqemud,
 * before QEMU starts) and which libvirt version the launcher runs. Stateless and thread-safe.
 */
public final class LauncherMemlock {
    private static final Logger log = LoggerFactory.getLogger(LauncherMemlock.class);

    /** What was computed and what the target's limit is now. */
    public record Outcome(int hostPid, long startTime, MemlockResult result, MemlockApplier.Applied applied) {}

    private final LauncherCallers resolver;
    private final MemlockFormula formula;
    private final MemlockLimits applier;

    public LauncherMemlock(LauncherCallers resolver, MemlockFormula formula, MemlockLimits applier) {
        this.resolver = resolver;
        this.formula = formula;
        this.applier = applier;
    }

    /** The limit the plan needs under {@code version}; the reconciler re-applies it after hotplug. */
    public MemlockResult compute(VmiPlan plan, LibvirtVersion version) {
        return formula.compute(plan.memlock(), version);
    }

    /** @param version the launcher's libvirt version, already validated; the plan's default when it named none */
    public Outcome apply(LauncherContext ctx, VmiPlan plan, int nsPid, LibvirtVersion version) throws IOException {
        MemlockResult r = compute(plan, version);
        long limit = r.unlimited() ? LinuxConstants.RLIM_INFINITY : r.bytes();
        try (ProcessRef target = resolver.target(ctx, nsPid)) {
            MemlockApplier.Applied a = applier.apply(target, limit);
            log.atInfo().addKeyValue("vmi", plan.key()).addKeyValue("pid", target.pid())
                    .addKeyValue("branch", r.branch().label()).addKeyValue("bytes", r.plain())
                    .log("memlock of {} for pid {}: {} ({}, libvirt {})", plan.key(), target.pid(), r.plain(),
                            r.branch().label(), version);
            return new Outcome(target.pid(), target.info().startTime(), r, a);
        }
    }
}
