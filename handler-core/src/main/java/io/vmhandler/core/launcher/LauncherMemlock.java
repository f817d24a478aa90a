package io.vmhandler.core.launcher;

import io.vmhandler.proc.ProcessRef;
import io.vmhandler.memlock.LibvirtVersion;
import io.vmhandler.core.memlock.MemlockApplier;
import io.vmhandler.memlock.MemlockFormula;
import io.vmhandler.memlock.MemlockResult;
import io.vmhandler.core.memlock.VmiMemlockMapper;
import io.vmhandler.nativeio.LinuxConstants;
import java.io.IOException;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * SetMemoryLock: the limit comes from the caller's VMI and libvirt's formula, never from the request;
 * the request only names which process of the caller's pod (usually libvirtd/virtqemud, before QEMU
 * starts) and which libvirt version the launcher runs.
 */
public final class LauncherMemlock {
    private static final Logger log = LoggerFactory.getLogger(LauncherMemlock.class);

    /** What was computed and what the target's limit is now. */
    public record Outcome(int hostPid, long startTime, MemlockResult result, MemlockApplier.Applied applied) {}

    private final CallerResolver resolver;
    private final VmiMemlockMapper mapper;
    private final MemlockFormula formula;
    private final MemlockApplier applier;
    private final LibvirtVersion defaultVersion;

    public LauncherMemlock(CallerResolver resolver, VmiMemlockMapper mapper, MemlockFormula formula,
                           MemlockApplier applier, LibvirtVersion defaultVersion) {
        this.resolver = resolver;
        this.mapper = mapper;
        this.formula = formula;
        this.applier = applier;
        this.defaultVersion = defaultVersion;
    }

    /** The limit the VMI needs, for the reconciler's hotplug re-application. */
    public MemlockResult compute(io.vmhandler.core.model.VmiDocument vmi, LibvirtVersion version) {
        return formula.compute(mapper.map(vmi), version);
    }

    public Outcome apply(LauncherContext ctx, int nsPid, Optional<String> libvirtVersion) throws IOException {
        LibvirtVersion version = libvirtVersion.isPresent()
                ? LibvirtVersion.parse("libvirt_version", libvirtVersion.get()) : defaultVersion;
        MemlockResult r = compute(ctx.vmi(), version);
        long limit = r.unlimited() ? LinuxConstants.RLIM_INFINITY : r.bytes();
        try (ProcessRef target = resolver.target(ctx, nsPid)) {
            MemlockApplier.Applied a = applier.apply(target, limit);
            log.atInfo().addKeyValue("vmi", ctx.vmi().key()).addKeyValue("pid", target.pid())
                    .addKeyValue("branch", r.branch().label()).addKeyValue("bytes", r.plain())
                    .log("memlock of {} for pid {}: {} ({}, libvirt {})", ctx.vmi().key(), target.pid(), r.plain(),
                            r.branch().label(), version);
            return new Outcome(target.pid(), target.info().startTime(), r, a);
        }
    }
}
