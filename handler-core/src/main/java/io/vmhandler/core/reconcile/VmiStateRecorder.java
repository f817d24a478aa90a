package io.vmhandler.core.reconcile;

import io.vmhandler.core.checkpoint.CheckpointRecord;
import io.vmhandler.core.checkpoint.Checkpoints;
import io.vmhandler.core.launcher.LauncherContext;
import io.vmhandler.core.launcher.LauncherEvents;
import io.vmhandler.core.launcher.LauncherMemlock;
import io.vmhandler.core.launcher.LauncherNetwork.PreparedTap;
import io.vmhandler.core.launcher.TapRecords;
import io.vmhandler.core.pinning.PinResult;
import io.vmhandler.core.plan.VmiPlan;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * Keeps, per VMI UID, what the launcher API did that the host alone cannot tell after a restart:
 * which process got which memlock (pid + start time, so a reused pid is never touched), which QEMU was
 * pinned and for how many vCPUs, which taps PrepareNetwork made and from which VMI version. The
 * reconciler reads it to re-apply after hotplug; Release deletes the recorded taps (the plan that
 * created them), not whatever the VMI names by then.
 *
 * <p>Record fields: {@code taps} is a comma-separated list of tap names (the same in records written
 * before {@code tapsPlan} existed, so those still release their taps); {@code tapsPlan} is the
 * resourceVersion of the plan that made them (empty for a VMI file without one).
 *
 * <p>Thread-safe: each event is one read-modify-write of the VMI's record in the store; two events of
 * one VMI at once may race, and the later write wins for the fields both touch (the backend orders calls
 * that change a pod, so that does not happen for one launcher).
 */
public final class VmiStateRecorder implements LauncherEvents, TapRecords {
    public static final String KEY = "key";
    public static final String POD = "pod";
    public static final String TAPS = "taps";
    public static final String TAPS_PLAN = "tapsPlan";
    public static final String MEMLOCK_PID = "memlockPid";
    public static final String MEMLOCK_START = "memlockStart";
    public static final String MEMLOCK_LIMIT = "memlockLimit";
    public static final String LIBVIRT = "libvirtVersion";
    public static final String QEMU_PID = "qemuPid";
    public static final String QEMU_START = "qemuStart";
    public static final String VCPUS = "vcpus";

    private final Checkpoints store;
    private final VmiNotifier notifier;

    public VmiStateRecorder(Checkpoints store, VmiNotifier notifier) {
        this.store = store;
        this.notifier = notifier;
    }

    private CheckpointRecord base(LauncherContext ctx) {
        String uid = uid(ctx);
        return store.get(uid).orElse(CheckpointRecord.empty(uid)).with(KEY, ctx.vmi().key()).with(POD, ctx.podUid());
    }

    static String uid(LauncherContext ctx) {
        return uid(ctx.vmi());
    }

    /** The checkpoint key of a VMI: its UID, or namespace_name for a file without one (standalone mode). */
    public static String uid(io.vmhandler.core.model.VmiDocument vmi) {
        return VmiPlan.checkpointUid(vmi);
    }

    @Override
    public Optional<List<String>> recordedTaps(String checkpointUid) {
        return store.get(checkpointUid).flatMap(r -> r.get(TAPS))
                .map(t -> Arrays.stream(t.split(",")).map(String::strip).filter(n -> !n.isEmpty()).toList());
    }

    @Override
    public void networkPrepared(LauncherContext ctx, VmiPlan plan, List<PreparedTap> taps) {
        store.put(base(ctx).with(TAPS, taps.stream().map(t -> t.result().state().name()).collect(Collectors.joining(",")))
                .with(TAPS_PLAN, plan.resourceVersion() == null ? "" : plan.resourceVersion()));
        long created = taps.stream().filter(t -> t.result().outcome() == io.vmhandler.net.TapResult.Outcome.CREATED).count();
        if (created > 0) {
            notifier.normal(ctx.vmi(), "TapsCreated", created + " tap(s) created in the launcher pod's network namespace");
        }
    }

    @Override
    public void memlockApplied(LauncherContext ctx, LauncherMemlock.Outcome o, String libvirtVersion) {
        store.put(base(ctx).with(MEMLOCK_PID, Integer.toString(o.hostPid()))
                .with(MEMLOCK_START, Long.toString(o.startTime()))
                .with(MEMLOCK_LIMIT, o.result().plain()).with(LIBVIRT, libvirtVersion));
        notifier.normal(ctx.vmi(), "MemlockApplied", "RLIMIT_MEMLOCK " + o.result().plain() + " ("
                + o.result().branch().label() + ", libvirt " + libvirtVersion + ")");
    }

    @Override
    public void vcpusPinned(LauncherContext ctx, int qemuHostPid, long qemuStartTime, PinResult r) {
        store.put(base(ctx).with(QEMU_PID, Integer.toString(qemuHostPid))
                .with(QEMU_START, Long.toString(qemuStartTime))
                .with(VCPUS, Integer.toString(r.vcpus().size())));
        notifier.normal(ctx.vmi(), "VcpusPinned", r.vcpus().size() + " vCPU thread(s) pinned");
    }

    @Override
    public void released(LauncherContext ctx, int tapsDeleted) {
        store.put(base(ctx).without(TAPS).without(TAPS_PLAN));
    }
}
