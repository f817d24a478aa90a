package io.vmhandler.core.reconcile;

import static java.nio.charset.StandardCharsets.UTF_8;

import io.vmhandler.core.checkpoint.CheckpointRecord;
import io.vmhandler.core.checkpoint.Checkpoints;
import io.vmhandler.core.launcher.LauncherContext;
import io.vmhandler.core.launcher.LauncherEvents;
import io.vmhandler.core.launcher.LauncherMemlock;
import io.vmhandler.core.launcher.LauncherNetwork.PreparedTap;
import io.vmhandler.core.launcher.TapRecords;
import io.vmhandler.core.pinning.PinResult;
import io.vmhandler.core.plan.VmiPlan;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps, per VMI UID, what the launcher API did that the host alone cannot tell after a restart:
 * which process got which memlock (pid + start time, so a reused pid is never touched), which QEMU was
 * pinned and for how many vCPUs, which taps PrepareNetwork made and from which VMI version. The
 * reconciler reads it to re-apply after hotplug; Release deletes the recorded taps (the plan that
 * created them), not whatever the VMI names by then.
 *
 * <p>Record fields: {@code taps} is a comma-separated list of every tap name recorded for the pod (the same
 * in records written before {@code tapsPlan} and {@code tapIfaces} existed, so those still release their taps);
 * {@code tapsPlan} is the resourceVersion of the last plan that prepared taps (empty for a VMI file without
 * one); {@code tapIfaces} is {@code interface=tap,...} (both URL-encoded) for NIC hotplug; {@code tapsPod} is
 * the pod uid the taps belong to (records without it: {@code pod}).
 *
 * <p>Hotplug: PrepareNetwork merges into what the same pod has recorded instead of overwriting it, so the tap
 * of an interface removed from the VMI stays recorded until ReleaseInterface or Release deletes it; a
 * PrepareNetwork of another pod of the VMI starts a fresh tap record, as before. ReleaseInterface removes
 * exactly its interface's entry; Release removes all tap fields. {@code vmhandler status} shows the taps of
 * the status book, which follows the same events (docs/hotplug.md).
 *
 * <p>Thread-safe: each event is one read-modify-write of the VMI's record in the store; two events of
 * one VMI at once may race, and the later write wins for the fields both touch (the backend orders calls
 * that change a pod, so that does not happen for one launcher).
 */
public final class VmiStateRecorder implements LauncherEvents, TapRecords {
    private static final Logger log = LoggerFactory.getLogger(VmiStateRecorder.class);

    public static final String KEY = "key";
    public static final String POD = "pod";
    public static final String TAPS = "taps";
    public static final String TAPS_PLAN = "tapsPlan";
    public static final String TAP_IFACES = "tapIfaces";
    public static final String TAPS_POD = "tapsPod";
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
        return store.get(checkpointUid).filter(r -> r.get(TAPS).isPresent()).map(VmiStateRecorder::names);
    }

    @Override
    public Map<String, String> recordedInterfaces(String checkpointUid, String podUid) {
        CheckpointRecord r = store.get(checkpointUid).orElse(null);
        return r != null && podUid.equals(tapsPod(r)) ? tapFields(r).interfaces() : Map.of();
    }

    /** A record's tap fields decoded: its interface-to-tap map (in recorded order) and its tap names. */
    private record TapFields(CheckpointRecord record, Map<String, String> interfaces, List<String> names) {}

    /**
     * The last record whose tap fields were decoded. A launcher that repeats PrepareNetwork (every restart) meets
     * the very record the previous call left, since an unchanged record is kept as it is ({@link
     * CheckpointRecord#with}), so its fields are split and URL-decoded once, not twice per call (the decoding was
     * ~8% of the daemon's JFR samples per PrepareNetwork under the deployment's C1 JIT). One slot: a miss only
     * decodes again.
     */
    private volatile TapFields lastDecoded;

    private TapFields tapFields(CheckpointRecord r) {
        TapFields f = lastDecoded;
        if (f == null || f.record() != r) {
            f = new TapFields(r, Collections.unmodifiableMap(interfaces(r)), names(r));
            lastDecoded = f;
        }
        return f;
    }

    /** The pod the recorded taps belong to: {@code tapsPod}, or {@code pod} in records written before it. */
    private static String tapsPod(CheckpointRecord r) {
        return r.get(TAPS_POD).or(() -> r.get(POD)).orElse("");
    }

    private static Map<String, String> interfaces(CheckpointRecord r) {
        Map<String, String> out = new LinkedHashMap<>();
        for (String pair : r.get(TAP_IFACES).orElse("").split(",")) {
            int eq = pair.indexOf('=');
            if (eq > 0) {
                out.put(URLDecoder.decode(pair.substring(0, eq), UTF_8), URLDecoder.decode(pair.substring(eq + 1), UTF_8));
            }
        }
        return out;
    }

    private static List<String> names(CheckpointRecord r) {
        return Arrays.stream(r.get(TAPS).orElse("").split(",")).map(String::strip).filter(n -> !n.isEmpty()).toList();
    }

    private static CheckpointRecord withTaps(CheckpointRecord r, Map<String, String> ifaces, Set<String> names) {
        return r.with(TAPS, String.join(",", names)).with(TAP_IFACES, ifaces.entrySet().stream()
                .map(e -> URLEncoder.encode(e.getKey(), UTF_8) + "=" + URLEncoder.encode(e.getValue(), UTF_8))
                .collect(Collectors.joining(",")));
    }

    @Override
    public void networkPrepared(LauncherContext ctx, VmiPlan plan, List<PreparedTap> taps) {
        Optional<CheckpointRecord> old = store.get(uid(ctx)).filter(r -> ctx.podUid().equals(tapsPod(r)));
        TapFields before = old.map(this::tapFields).orElse(null);
        if (before != null && unchangedBy(ctx, plan, taps, before)) {
            return; // every tap adopted and recorded as it is: the record would be written back equal, and no event
        }
        Map<String, String> ifaces = new LinkedHashMap<>(before == null ? Map.of() : before.interfaces());
        Set<String> names = new LinkedHashSet<>(before == null ? List.of() : before.names());
        for (PreparedTap t : taps) {
            // ReleaseInterface deletes only what vmhandler created for the pod: a tap this pod's PrepareNetwork
            // adopted without ever having created it (it was there before) is released by Release only, as before
            if (t.result().outcome() == io.vmhandler.net.TapResult.Outcome.CREATED
                    || ifaces.containsKey(t.interfaceName())) {
                ifaces.put(t.interfaceName(), t.result().state().name());
            }
            names.add(t.result().state().name());
        }
        store.put(withTaps(base(ctx), ifaces, names).with(TAPS_POD, ctx.podUid())
                .with(TAPS_PLAN, plan.resourceVersion() == null ? "" : plan.resourceVersion()));
        long created = taps.stream().filter(t -> t.result().outcome() == io.vmhandler.net.TapResult.Outcome.CREATED).count();
        if (created > 0) {
            notifier.normal(ctx.vmi(), "TapsCreated", created + " tap(s) created in the launcher pod's network namespace");
        }
    }

    /**
     * Whether {@link #networkPrepared} would store {@code before}'s record unchanged: no tap created, each tap
     * recorded under its name (and under its interface, if that is recorded), and the record's VMI, pod and plan
     * fields already this call's.
     */
    private static boolean unchangedBy(LauncherContext ctx, VmiPlan plan, List<PreparedTap> taps, TapFields before) {
        CheckpointRecord r = before.record();
        String planVersion = plan.resourceVersion() == null ? "" : plan.resourceVersion();
        Map<String, String> fields = r.fields();
        if (!ctx.vmi().key().equals(fields.get(KEY)) || !ctx.podUid().equals(fields.get(POD))
                || !ctx.podUid().equals(fields.get(TAPS_POD)) || !planVersion.equals(fields.get(TAPS_PLAN))) {
            return false;
        }
        for (PreparedTap t : taps) {
            String name = t.result().state().name();
            String recorded = before.interfaces().get(t.interfaceName());
            if (t.result().outcome() == io.vmhandler.net.TapResult.Outcome.CREATED || !before.names().contains(name)
                    || (recorded != null && !recorded.equals(name))) {
                return false;
            }
        }
        return true;
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

    /**
     * Without fsync: this write is on Release's path, and a node crash that lost it cannot leave a wrong state. It
     * survives the daemon's death (the page cache is the kernel's); only a crash of the node can bring back the
     * tap fields, and after it the pod whose taps they name, with its netns, is gone: the next PrepareNetwork of
     * the VMI is another pod's and replaces them (tapsPod), and a Release before it retires, in the caller's own
     * netns, taps of the names the VMI's plan gives anyway (its fallback without a record).
     */
    @Override
    public void released(LauncherContext ctx, int tapsDeleted) {
        store.putWithoutFsync(base(ctx).without(TAPS).without(TAPS_PLAN).without(TAP_IFACES).without(TAPS_POD));
    }

    @Override
    public void interfaceReleased(LauncherContext ctx, String interfaceName, String tapName, boolean deleted) {
        Optional<CheckpointRecord> old = store.get(uid(ctx)).filter(r -> ctx.podUid().equals(tapsPod(r)));
        if (old.isPresent()) {
            Map<String, String> ifaces = new LinkedHashMap<>(interfaces(old.get()));
            ifaces.remove(interfaceName);
            Set<String> names = new LinkedHashSet<>(names(old.get()));
            if (!ifaces.containsValue(tapName)) {
                names.remove(tapName);
            }
            store.put(withTaps(old.get(), ifaces, names));
        }
        log.atInfo().addKeyValue("vmi", ctx.vmi().key()).addKeyValue("pod", ctx.podUid())
                .addKeyValue("interface", interfaceName).addKeyValue("tap", tapName).addKeyValue("deleted", deleted)
                .log("tap {} of interface {} of {} released ({})", tapName, interfaceName, ctx.vmi().key(),
                        deleted ? "deleted" : "already gone");
        notifier.normal(ctx.vmi(), "TapReleased", "tap " + tapName + " of unplugged interface " + interfaceName
                + (deleted ? " deleted" : " was already gone") + " from the launcher pod's network namespace");
    }
}
