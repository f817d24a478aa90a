package io.vmhandler.core.launcher;

import io.vmhandler.core.devices.DevicesReport;
import io.vmhandler.core.devices.PodDevices;
import io.vmhandler.core.launcher.LauncherNetwork.PreparedTap;
import io.vmhandler.memlock.MemlockInput;
import io.vmhandler.core.metrics.DaemonMetrics;
import io.vmhandler.core.metrics.PrivilegedOp;
import io.vmhandler.core.pinning.PinResult;
import io.vmhandler.core.pinning.Skip;
import io.vmhandler.core.plan.NetworkPlan;
import io.vmhandler.core.plan.StableTapNames;
import io.vmhandler.core.plan.VmiPlan;
import io.vmhandler.core.plan.VmiPlanner;
import io.vmhandler.memlock.LibvirtVersion;
import io.vmhandler.proc.PidNamespaces;
import io.vmhandler.grpc.CallerIdentity;
import io.vmhandler.grpc.DevicesResult;
import io.vmhandler.grpc.LauncherBackend;
import io.vmhandler.grpc.LauncherException;
import io.vmhandler.grpc.MemlockResult;
import io.vmhandler.grpc.ReleaseResult;
import io.vmhandler.grpc.Skipped;
import io.vmhandler.grpc.TapResult;
import java.io.IOException;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * handler-core's implementation of the launcher API port: resolves the caller from the kernel facts,
 * reads the caller's {@link VmiPlan} (built once per VMI change), runs the capability, records metrics
 * and events, and has {@link LauncherErrors} turn every failure into the port's kinds. Request fields
 * are checked here, before anything else happens.
 *
 * <p>Threading: called on the API worker pool, concurrently for different callers and possibly for the
 * same one. Each call resolves its own caller and holds no shared mutable state here; calls of one pod that
 * change its host state run one at a time in the pod's order ({@link PodCallGate}), so PrepareNetwork and
 * ReleaseInterface of one pod never interleave their read-modify-write of the pod's tap record; a second
 * PrepareNetwork while one runs gets that call's taps.
 */
public final class CoreLauncherBackend implements LauncherBackend {
    /** PID_MAX_LIMIT on 64-bit kernels (include/linux/threads.h): no pid namespace numbers beyond it. */
    public static final int PID_MAX = 4 * 1024 * 1024;

    private final LauncherCallers resolver;
    private final VmiPlanner planner;
    private final LauncherNetwork network;
    private final LauncherMemlock memlock;
    private final LauncherPinning pinning;
    private final PidNamespaces pidNamespaces;
    private final DaemonMetrics metrics;
    private final LauncherEvents events;
    private final TapRecords tapRecords;
    private final PodCallGate gate = new PodCallGate();
    private final PodDevices devices;

    /** Without PrepareDevices (it answers UNIMPLEMENTED). */
    public CoreLauncherBackend(LauncherCallers resolver, VmiPlanner planner, LauncherNetwork network,
                               LauncherMemlock memlock, LauncherPinning pinning, PidNamespaces pidNamespaces,
                               DaemonMetrics metrics, LauncherEvents events, TapRecords tapRecords) {
        this(resolver, planner, network, memlock, pinning, pidNamespaces, metrics, events, tapRecords, null);
    }

    public CoreLauncherBackend(LauncherCallers resolver, VmiPlanner planner, LauncherNetwork network,
                               LauncherMemlock memlock, LauncherPinning pinning, PidNamespaces pidNamespaces,
                               DaemonMetrics metrics, LauncherEvents events, TapRecords tapRecords, PodDevices devices) {
        this.devices = devices;
        this.resolver = resolver;
        this.planner = planner;
        this.network = network;
        this.memlock = memlock;
        this.pinning = pinning;
        this.pidNamespaces = pidNamespaces;
        this.metrics = metrics;
        this.events = events;
        this.tapRecords = tapRecords;
    }

    @FunctionalInterface
    private interface Body<T> {
        T run(LauncherContext ctx, VmiPlan plan) throws IOException;
    }

    private <T> T call(CallerIdentity who, String what, Body<T> body) {
        return call(who, what, what, LauncherErrors.NO_PID, body);
    }

    /**
     * Resolves the caller, then runs {@code body} in its pod's order ({@link PodCallGate}): calls of one pod that
     * change its host state never interleave, and a call equal to the pod's last one in flight ({@code operation}:
     * the method and its arguments) gets that call's outcome instead of running twice. Identity is resolved first
     * and outside the gate, so a caller that is refused never waits for a pod it does not belong to.
     *
     * @param requestPid the pid the request names, in the caller's pid namespace, for the caller's messages
     */
    private <T> T call(CallerIdentity who, String what, String operation, int requestPid, Body<T> body) {
        LauncherContext ctx;
        try {
            Caller caller = new Caller(who.pid(), Integer.toUnsignedLong(who.uid()), Integer.toUnsignedLong(who.gid()));
            ctx = metrics.time(PrivilegedOp.IDENTITY_RESOLVE, () -> resolver.resolve(caller, who.connection()));
        } catch (IOException | RuntimeException e) {
            throw LauncherErrors.translate(e, what, who, requestPid);
        }
        try (ctx) {
            return gate.run(ctx.podUid(), operation, () -> {
                try {
                    return body.run(ctx, planner.plan(ctx.vmi()));
                } catch (IOException | RuntimeException e) {
                    // translated here, once, so a call that joined this one gets the same status
                    throw LauncherErrors.translate(e, what, who, requestPid);
                }
            });
        }
    }

    /** A request's pid field: 1..PID_MAX. */
    private static int requirePid(String field, int pid) {
        if (pid < 1 || pid > PID_MAX) {
            throw LauncherException.invalidArgument(field + " must be in 1.." + PID_MAX + ", got " + pid);
        }
        return pid;
    }

    @Override
    public List<TapResult> prepareNetwork(CallerIdentity who) {
        return call(who, "PrepareNetwork", (ctx, vmiPlan) -> {
            // a pod's taps keep the names its earlier PrepareNetwork recorded, whatever the VMI's interface order
            // became (NIC hotplug): StableTapNames
            VmiPlan plan = vmiPlan.withTaps(StableTapNames.assign(vmiPlan.taps(),
                    tapRecords.recordedInterfaces(vmiPlan.checkpointUid(), ctx.podUid())));
            List<PreparedTap> taps = metrics.time(PrivilegedOp.TAP_CREATE, () -> network.prepare(ctx, plan));
            events.networkPrepared(ctx, plan, taps);
            metrics.vmiTaps(ctx.vmi().key(), taps.size());
            metrics.vmiBandwidthLimits(ctx.vmi().key(), bits(plan.qos().towardsGuest()), bits(plan.qos().fromGuest()));
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
        requirePid("pid", pid);
        LibvirtVersion version;
        try {
            version = libvirtVersion.isPresent() ? LibvirtVersion.parse("libvirt_version", libvirtVersion.get()) : null;
        } catch (IllegalArgumentException e) {
            throw LauncherException.invalidArgument(e.getMessage());
        }
        String operation = "SetMemoryLock pid=" + pid + " libvirt_version=" + libvirtVersion.orElse("");
        return call(who, "SetMemoryLock", operation, pid, (ctx, plan) -> {
            LibvirtVersion v = version != null ? version : plan.defaultLibvirt();
            LauncherMemlock.Outcome o = metrics.time(PrivilegedOp.MEMLOCK_APPLY,
                    () -> memlock.apply(ctx, plan, pid, v));
            var r = o.result();
            events.memlockApplied(ctx, o, r.libvirtVersion().toString());
            metrics.vmiMemlockBytes(ctx.vmi().key(), r.unlimited() ? -1 : r.bytes());
            boolean applied = r.branch() != io.vmhandler.memlock.MemlockResult.Branch.NONE;
            return new MemlockResult(pid, applied, r.unlimited(), r.unlimited() ? 0 : r.bytes(),
                    MemlockResult.Branch.valueOf(r.branch().name()), terms(r.input(), r.factor()),
                    String.join("; ", r.terms()), r.libvirtVersion().toString());
        });
    }

    /** The gauge's unit, bit/s as the annotation gave it; 0 for no limit. */
    private static long bits(io.vmhandler.net.RateLimit limit) {
        return limit == null ? 0 : limit.rateBytesPerSec() * 8;
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
        requirePid("qemu_pid", qemuPid);
        return call(who, "PinVcpus", "PinVcpus qemu_pid=" + qemuPid, qemuPid, (ctx, plan) -> {
            LauncherPinning.Outcome o = metrics.time(PrivilegedOp.PIN_VCPUS, () -> pinning.pin(ctx, plan, qemuPid));
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
        return call(who, "Release", (ctx, plan) -> {
            // the taps the preparing plan named, as recorded then; the current plan's only without a record
            List<String> recorded = tapRecords.recordedTaps(plan.checkpointUid()).orElseGet(plan::tapNames);
            List<String> names = new ArrayList<>();
            int n = metrics.time(PrivilegedOp.TAP_DELETE, () -> network.release(ctx, recorded, names));
            events.released(ctx, n);
            metrics.vmiTaps(ctx.vmi().key(), 0);
            metrics.vmiBandwidthLimits(ctx.vmi().key(), 0, 0);
            return new ReleaseResult(names, List.of());
        });
    }

    /**
     * NIC hot-unplug: deletes the tap recorded for {@code interfaceName} for the caller's pod, in the caller's netns
     * only, through {@link LauncherNetwork#release} (the same deletion as Release). Ordered with the pod's other
     * calls by the gate; a second call for the same interface while one runs gets that call's outcome, a later one
     * finds nothing recorded and reports the interface in skipped.
     */
    @Override
    public ReleaseResult releaseInterface(CallerIdentity who, String interfaceName) {
        return call(who, "ReleaseInterface", "ReleaseInterface interface_name=" + interfaceName, LauncherErrors.NO_PID,
                (ctx, plan) -> {
            if (NetworkPlan.namesInterface(plan.vmi(), interfaceName)) {
                throw LauncherException.conflict("interface " + interfaceName + " is still in the spec of VMI "
                        + plan.key() + ": ReleaseInterface follows its removal (or state: absent) from the VMI");
            }
            Map<String, String> recorded = tapRecords.recordedInterfaces(plan.checkpointUid(), ctx.podUid());
            String tap = recorded.get(interfaceName);
            if (tap == null) {
                return new ReleaseResult(List.of(), List.of(new Skipped(interfaceName,
                        "no tap created by vmhandler is recorded for this interface of the caller's pod")));
            }
            if (StableTapNames.assign(plan.taps(), recorded).stream().anyMatch(t -> t.tapName().equals(tap))) {
                throw LauncherException.conflict("tap " + tap + " of interface " + interfaceName
                        + " serves an interface VMI " + plan.key() + " still names");
            }
            List<String> removed = new ArrayList<>();
            int n = metrics.time(PrivilegedOp.TAP_DELETE, () -> network.release(ctx, List.of(tap), removed));
            events.interfaceReleased(ctx, interfaceName, tap, n > 0);
            metrics.vmiTaps(ctx.vmi().key(), recorded.size() - 1);
            return new ReleaseResult(removed, n > 0 ? List.of()
                    : List.of(new Skipped(interfaceName, "tap " + tap + " was already gone from the pod's network namespace")));
        });
    }

    @Override
    public DevicesResult prepareDevices(CallerIdentity who) {
        if (devices == null) {
            return LauncherBackend.super.prepareDevices(who);
        }
        return call(who, "PrepareDevices", (ctx, plan) -> {
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
}
