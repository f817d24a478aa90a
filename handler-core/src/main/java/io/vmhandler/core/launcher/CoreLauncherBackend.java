package io.vmhandler.core.launcher;

import io.vmhandler.core.devices.DeviceRefusedException;
import io.vmhandler.core.devices.DevicesReport;
import io.vmhandler.core.devices.PodDevices;
import io.vmhandler.core.launcher.LauncherNetwork.PreparedTap;
import io.vmhandler.memlock.MemlockInput;
import io.vmhandler.core.memlock.MemlockRefusedException;
import io.vmhandler.core.metrics.DaemonMetrics;
import io.vmhandler.core.metrics.PrivilegedOp;
import io.vmhandler.core.pinning.PinResult;
import io.vmhandler.core.pinning.Skip;
import io.vmhandler.proc.PidNamespaces;
import io.vmhandler.proc.ProcessGoneException;
import io.vmhandler.grpc.CallerIdentity;
import io.vmhandler.grpc.DevicesResult;
import io.vmhandler.grpc.LauncherBackend;
import io.vmhandler.grpc.LauncherException;
import io.vmhandler.grpc.MemlockResult;
import io.vmhandler.grpc.ReleaseResult;
import io.vmhandler.grpc.Skipped;
import io.vmhandler.grpc.TapResult;
import io.vmhandler.nativeio.SyscallException;
import io.vmhandler.net.TapConflictException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * handler-core's implementation of the launcher API port: resolves the caller from the kernel facts,
 * runs the capability, records metrics and events, and turns core failures into the port's
 * {@link LauncherException} kinds with messages fit for an unprivileged caller.
 */
public final class CoreLauncherBackend implements LauncherBackend {
    private static final Logger log = LoggerFactory.getLogger(CoreLauncherBackend.class);

    private final CallerResolver resolver;
    private final LauncherNetwork network;
    private final LauncherMemlock memlock;
    private final LauncherPinning pinning;
    private final PidNamespaces pidNamespaces;
    private final DaemonMetrics metrics;
    private final LauncherEvents events;
    private final PodDevices devices;

    /** Without PrepareDevices (it answers UNIMPLEMENTED). */
    public CoreLauncherBackend(CallerResolver resolver, LauncherNetwork network, LauncherMemlock memlock,
                               LauncherPinning pinning, PidNamespaces pidNamespaces, DaemonMetrics metrics,
                               LauncherEvents events) {
        this(resolver, network, memlock, pinning, pidNamespaces, metrics, events, null);
    }

    public CoreLauncherBackend(CallerResolver resolver, LauncherNetwork network, LauncherMemlock memlock,
                               LauncherPinning pinning, PidNamespaces pidNamespaces, DaemonMetrics metrics,
                               LauncherEvents events, PodDevices devices) {
        this.devices = devices;
        this.resolver = resolver;
        this.network = network;
        this.memlock = memlock;
        this.pinning = pinning;
        this.pidNamespaces = pidNamespaces;
        this.metrics = metrics;
        this.events = events;
    }

    @FunctionalInterface
    private interface Body<T> {
        T run(LauncherContext ctx) throws IOException;
    }

    private <T> T call(CallerIdentity who, String what, Body<T> body) {
        return call(who, what, NO_PID, body);
    }

    /** {@code requestPid}: the pid the request names, in the caller's pid namespace, for the caller's messages. */
    private <T> T call(CallerIdentity who, String what, int requestPid, Body<T> body) {
        Caller caller = new Caller(who.pid(), Integer.toUnsignedLong(who.uid()), Integer.toUnsignedLong(who.gid()));
        LauncherContext ctx;
        try {
            ctx = metrics.time(PrivilegedOp.IDENTITY_RESOLVE, () -> resolver.resolve(caller));
        } catch (IOException e) {
            throw translate(e, what, who, requestPid);
        }
        try (ctx) {
            return body.run(ctx);
        } catch (IOException e) {
            throw translate(e, what, who, requestPid);
        }
    }

    @Override
    public List<TapResult> prepareNetwork(CallerIdentity who) {
        return call(who, "PrepareNetwork", ctx -> {
            List<PreparedTap> taps = metrics.time(PrivilegedOp.TAP_CREATE, () -> network.prepare(ctx));
            events.networkPrepared(ctx, taps);
            metrics.vmiTaps(ctx.vmi().key(), taps.size());
            List<TapResult> out = new ArrayList<>();
            for (PreparedTap t : taps) {
                var s = t.result().state();
                out.add(new TapResult(t.interfaceName(), s.name(), t.result().queues(), s.mtu(), (int) s.owner(),
                        (int) s.group(), t.result().outcome() == io.vmhandler.net.TapResult.Outcome.CREATED));
            }
            return out;
        });
    }

    @Override
    public MemlockResult setMemoryLock(CallerIdentity who, int pid, Optional<String> libvirtVersion) {
        return call(who, "SetMemoryLock", pid, ctx -> {
            LauncherMemlock.Outcome o = metrics.time(PrivilegedOp.MEMLOCK_APPLY,
                    () -> memlock.apply(ctx, pid, libvirtVersion));
            var r = o.result();
            events.memlockApplied(ctx, o, r.libvirtVersion().toString());
            metrics.vmiMemlockBytes(ctx.vmi().key(), r.unlimited() ? -1 : r.bytes());
            boolean applied = r.branch() != io.vmhandler.memlock.MemlockResult.Branch.NONE;
            return new MemlockResult(pid, applied, r.unlimited(), r.unlimited() ? 0 : r.bytes(),
                    MemlockResult.Branch.valueOf(r.branch().name()), terms(r.input(), r.factor()),
                    String.join("; ", r.terms()), r.libvirtVersion().toString());
        });
    }

    private static List<MemlockResult.Term> terms(MemlockInput in, int factor) {
        List<MemlockResult.Term> t = new ArrayList<>();
        t.add(new MemlockResult.Term("totalMemory", in.totalMemoryKiB(), "KiB"));
        t.add(new MemlockResult.Term("maxMemory", in.maxMemoryKiB(), "KiB"));
        if (in.hardLimitKiB().isPresent()) {
            t.add(new MemlockResult.Term("hardLimit", in.hardLimitKiB().getAsLong(), "KiB"));
        }
        t.add(new MemlockResult.Term("locked", in.locked() ? 1 : 0, "bool"));
        t.add(new MemlockResult.Term("vfioHostdevs", in.vfioHostdevs(), "count"));
        t.add(new MemlockResult.Term("nvmeDisks", in.nvmeDisks(), "count"));
        t.add(new MemlockResult.Term("vdpaNets", in.vdpaNets(), "count"));
        t.add(new MemlockResult.Term("vhostVdpaDisks", in.vhostVdpaSources(), "count"));
        t.add(new MemlockResult.Term("iommus", in.iommus(), "count"));
        t.add(new MemlockResult.Term("factor", factor, "count"));
        return t;
    }

    @Override
    public io.vmhandler.grpc.PinResult pinVcpus(CallerIdentity who, int qemuPid) {
        return call(who, "PinVcpus", qemuPid, ctx -> {
            LauncherPinning.Outcome o = metrics.time(PrivilegedOp.PIN_VCPUS, () -> pinning.pin(ctx, qemuPid));
            PinResult r = o.result();
            events.vcpusPinned(ctx, r.pid(), o.qemuStartTime(), r);
            metrics.vmiPinnedVcpus(ctx.vmi().key(), r.vcpus().size());
            List<io.vmhandler.grpc.PinResult.VcpuPin> vcpus = new ArrayList<>();
            for (PinResult.VcpuPin v : r.vcpus()) {
                vcpus.add(new io.vmhandler.grpc.PinResult.VcpuPin(v.vcpu(), pidNamespaces.toNsTid(r.pid(), v.tid()),
                        list(v.cpus()), v.realtime() ? io.vmhandler.grpc.PinResult.SchedPolicy.FIFO
                                : io.vmhandler.grpc.PinResult.SchedPolicy.OTHER, v.realtime() ? 1 : 0));
            }
            List<Integer> emuTids = new ArrayList<>();
            for (int tid : r.housekeepingTids()) {
                emuTids.add(pidNamespaces.toNsTid(r.pid(), tid));
            }
            List<Skipped> skipped = new ArrayList<>();
            for (Skip s : r.skipped()) {
                skipped.add(new Skipped(s.subject(), s.reason().label() + (s.detail() == null ? "" : ": " + s.detail())));
            }
            if (r.pidGone()) {
                skipped.add(new Skipped("qemu pid " + qemuPid, "the process exited while it was being pinned"));
            }
            var pit = r.kvmPit().map(k -> new io.vmhandler.grpc.PinResult.KvmPit(list(k.cpus()),
                    k.realtime() ? io.vmhandler.grpc.PinResult.SchedPolicy.FIFO : io.vmhandler.grpc.PinResult.SchedPolicy.OTHER,
                    k.realtime() ? 2 : 0));
            return new io.vmhandler.grpc.PinResult(qemuPid, vcpus,
                    r.housekeepingCpus() == null ? List.of() : list(r.housekeepingCpus()), emuTids, skipped, pit);
        });
    }

    @Override
    public ReleaseResult release(CallerIdentity who) {
        return call(who, "Release", ctx -> {
            List<String> names = new ArrayList<>();
            int n = metrics.time(PrivilegedOp.TAP_DELETE, () -> network.release(ctx, names));
            events.released(ctx, n);
            metrics.vmiTaps(ctx.vmi().key(), 0);
            return new ReleaseResult(names, List.of());
        });
    }

    @Override
    public DevicesResult prepareDevices(CallerIdentity who) {
        if (devices == null) {
            return LauncherBackend.super.prepareDevices(who);
        }
        return call(who, "PrepareDevices", ctx -> {
            DevicesReport r = metrics.time(PrivilegedOp.DEVICE_GRANT, () -> devices.prepare(ctx.process(), ctx.vmi(),
                    ctx.caller().uid(), ctx.caller().gid()));
            return new DevicesResult(
                    r.granted().stream().map(g -> new DevicesResult.Granted(g.node().podPath(), g.node().number(),
                            g.changed())).toList(),
                    r.skipped().stream().map(s -> new Skipped(s.item(), s.reason())).toList(),
                    r.sysctls().stream().map(s -> new DevicesResult.Sysctl(s.name(), s.before(), s.after())).toList());
        });
    }

    private static List<Integer> list(BitSet b) {
        List<Integer> out = new ArrayList<>();
        b.stream().forEach(out::add);
        return out;
    }

    private static final int NO_PID = -1;

    /**
     * Core failures → the port's kinds. Messages must make sense to the caller and hold no host paths
     * and no host pids: a pod in its own pid namespace knows its processes by other numbers, and the
     * host's are not its business. The node's log keeps the full message.
     */
    private static RuntimeException translate(IOException e, String what, CallerIdentity who, int requestPid) {
        if (e instanceof CallerDeniedException) {
            log.atWarn().addKeyValue("caller", who.toString()).log("{} denied: {}", what, e.getMessage());
            return LauncherException.permissionDenied(e.getMessage());
        }
        if (e instanceof ProcessGoneException g) {
            log.atInfo().addKeyValue("caller", who.toString()).addKeyValue("pid", g.pid())
                    .log("{}: process {} exited during the call", what, g.pid());
            return LauncherException.notFound(g.pid() == who.pid() || requestPid == NO_PID
                    ? "the calling process exited during " + what
                    : "process " + requestPid + " exited during " + what);
        }
        if (e instanceof TapConflictException c) {
            return LauncherException.conflict("a tap exists with other settings: " + String.join("; ", c.differences()));
        }
        if (e instanceof MemlockRefusedException m) {
            log.atWarn().addKeyValue("caller", who.toString()).log("{} refused: {}", what, m.getMessage());
            return LauncherException.conflict("the node refused the memlock limit: " + m.callerMessage(requestPid));
        }
        if (e instanceof DeviceRefusedException d) {
            log.atWarn().addKeyValue("caller", who.toString()).log("{} refused: {}", what, d.getMessage());
            return LauncherException.conflict(d.getMessage());
        }
        if (e instanceof SyscallException s && s.isTransient()) {
            return LauncherException.unavailable(what + " hit a transient " + s.errnoName() + "; retry", e);
        }
        return new IllegalStateException(what + " failed for " + who + ": " + e.getMessage(), e);
    }
}
