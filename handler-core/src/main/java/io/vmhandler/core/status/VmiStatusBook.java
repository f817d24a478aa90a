package io.vmhandler.core.status;

import io.vmhandler.core.launcher.LauncherContext;
import io.vmhandler.core.launcher.LauncherEvents;
import io.vmhandler.core.launcher.LauncherMemlock;
import io.vmhandler.core.launcher.LauncherNetwork.PreparedTap;
import io.vmhandler.core.plan.VmiPlan;
import io.vmhandler.core.model.VmiDocument;
import io.vmhandler.core.pinning.PinResult;
import io.vmhandler.core.reconcile.VmiNotifier;
import io.vmhandler.grpc.NodeStatus;
import io.vmhandler.memlock.MemlockResult;
import io.vmhandler.proc.PidNamespaces;
import java.time.Clock;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.UnaryOperator;

/**
 * Per VMI (namespace/name key), what the launcher API last did for it and its last failure, held in
 * memory for the admin service's node status. Fed as a {@link LauncherEvents} observer (successes,
 * on the API worker thread right after the step), by {@link StatusRecordingBackend} (failed calls) and
 * through {@link #observing} (reconcile warnings). Nothing here is persisted: after a restart the
 * status starts empty and fills as launchers call again; the checkpoint store keeps what the host
 * needs.
 *
 * <p>Thread-safe: each update replaces one VMI's entry atomically ({@link ConcurrentHashMap#compute});
 * two calls for the same VMI at once each update their own part (taps, memlock, pinning, error) and
 * the later one wins for a part both touch. Entries of VMIs that left the node are dropped by
 * {@link #forget}. Memory is bounded by the VMIs on the node.
 */
public final class VmiStatusBook implements LauncherEvents {
    /** One VMI's recorded state; empty parts are null or an empty list. */
    record Entry(String podUid, List<NodeStatus.Tap> taps, NodeStatus.Memlock memlock, NodeStatus.Pinning pinning,
                 NodeStatus.CallError lastError) {
        static final Entry EMPTY = new Entry("", List.of(), null, null, null);

        Entry pod(String uid) {
            return uid == null || uid.isEmpty() ? this : new Entry(uid, taps, memlock, pinning, lastError);
        }

        Entry taps(List<NodeStatus.Tap> t) {
            return new Entry(podUid, List.copyOf(t), memlock, pinning, lastError);
        }

        Entry memlock(NodeStatus.Memlock m) {
            return new Entry(podUid, taps, m, pinning, lastError);
        }

        Entry pinning(NodeStatus.Pinning p) {
            return new Entry(podUid, taps, memlock, p, lastError);
        }

        Entry error(NodeStatus.CallError e) {
            return new Entry(podUid, taps, memlock, pinning, e);
        }
    }

    private final ConcurrentHashMap<String, Entry> entries = new ConcurrentHashMap<>();
    private final AtomicReference<NodeStatus.CallError> unattributed = new AtomicReference<>();
    private final PidNamespaces pids;
    private final Clock clock;

    /** @param pids translates a host pid back to the number the launcher used (its pid namespace) */
    public VmiStatusBook(PidNamespaces pids, Clock clock) {
        this.pids = Objects.requireNonNull(pids, "pids");
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    /**
     * {@code first} and then this book, for the one {@link LauncherEvents} slot of the backend: the
     * checkpoint recorder keeps working exactly as before and the book observes the same events.
     */
    public LauncherEvents after(LauncherEvents first) {
        VmiStatusBook book = this;
        return new LauncherEvents() {
            @Override
            public void networkPrepared(LauncherContext ctx, VmiPlan plan, List<PreparedTap> taps) {
                first.networkPrepared(ctx, plan, taps);
                book.networkPrepared(ctx, plan, taps);
            }

            @Override
            public void memlockApplied(LauncherContext ctx, LauncherMemlock.Outcome outcome, String libvirtVersion) {
                first.memlockApplied(ctx, outcome, libvirtVersion);
                book.memlockApplied(ctx, outcome, libvirtVersion);
            }

            @Override
            public void vcpusPinned(LauncherContext ctx, int qemuHostPid, long qemuStartTime, PinResult result) {
                first.vcpusPinned(ctx, qemuHostPid, qemuStartTime, result);
                book.vcpusPinned(ctx, qemuHostPid, qemuStartTime, result);
            }

            @Override
            public void released(LauncherContext ctx, int tapsDeleted) {
                first.released(ctx, tapsDeleted);
                book.released(ctx, tapsDeleted);
            }

            @Override
            public void interfaceReleased(LauncherContext ctx, String interfaceName, String tapName, boolean deleted) {
                first.interfaceReleased(ctx, interfaceName, tapName, deleted);
                book.interfaceReleased(ctx, interfaceName, tapName, deleted);
            }
        };
    }

    /**
     * {@code next}, plus every reconcile warning or failure recorded as the VMI's last error
     * ({@code reconcile/<reason>}, no gRPC code).
     */
    public VmiNotifier observing(VmiNotifier next) {
        return new VmiNotifier() {
            @Override
            public void normal(VmiDocument vmi, String reason, String message) {
                next.normal(vmi, reason, message);
            }

            @Override
            public void warning(VmiDocument vmi, String reason, String message) {
                reconcileFailed(vmi, reason, message);
                next.warning(vmi, reason, message);
            }

            @Override
            public void failed(VmiDocument vmi, String reason, String message) {
                reconcileFailed(vmi, reason, message);
                next.failed(vmi, reason, message);
            }

            @Override
            public void recovered(VmiDocument vmi) {
                next.recovered(vmi);
            }
        };
    }

    @Override
    public void networkPrepared(LauncherContext ctx, VmiPlan plan, List<PreparedTap> taps) {
        List<NodeStatus.Tap> out = new ArrayList<>();
        for (PreparedTap t : taps) {
            var s = t.result().state();
            out.add(new NodeStatus.Tap(t.interfaceName(), s.name(), t.result().queues(), s.mtu(), s.owner(), s.group()));
        }
        // the same pod's taps of interfaces gone from the VMI stay listed until ReleaseInterface deletes them,
        // as they stay in the checkpoint record (NIC hot-unplug, docs/hotplug.md)
        entries.compute(ctx.vmi().key(), (k, e) -> {
            Entry before = e == null ? Entry.EMPTY : e;
            return before.pod(ctx.podUid()).taps(ctx.podUid().equals(before.podUid()) ? kept(before.taps(), out) : out);
        });
    }

    @Override
    public void memlockApplied(LauncherContext ctx, LauncherMemlock.Outcome o, String libvirtVersion) {
        MemlockResult r = o.result();
        int nsPid = pids.toNsTid(o.hostPid(), o.hostPid());
        NodeStatus.Memlock m = new NodeStatus.Memlock(Math.max(nsPid, 0), o.hostPid(),
                r.branch() != MemlockResult.Branch.NONE, r.unlimited(), r.unlimited() ? 0 : r.bytes(),
                r.branch().name(), libvirtVersion, clock.instant());
        update(ctx, e -> e.memlock(m));
    }

    @Override
    public void vcpusPinned(LauncherContext ctx, int qemuHostPid, long qemuStartTime, PinResult r) {
        List<NodeStatus.VcpuCpus> vcpus = new ArrayList<>();
        for (PinResult.VcpuPin v : r.vcpus()) {
            vcpus.add(new NodeStatus.VcpuCpus(v.vcpu(), list(v.cpus())));
        }
        vcpus.sort(java.util.Comparator.comparingInt(NodeStatus.VcpuCpus::vcpu));
        NodeStatus.Pinning p = new NodeStatus.Pinning(qemuHostPid, vcpus,
                r.housekeepingCpus() == null ? List.of() : list(r.housekeepingCpus()), clock.instant());
        update(ctx, e -> e.pinning(p));
    }

    @Override
    public void released(LauncherContext ctx, int tapsDeleted) {
        update(ctx, e -> e.taps(List.of()));
    }

    private static List<NodeStatus.Tap> kept(List<NodeStatus.Tap> before, List<NodeStatus.Tap> now) {
        List<NodeStatus.Tap> out = new ArrayList<>(now);
        for (NodeStatus.Tap t : before) {
            if (now.stream().noneMatch(n -> n.interfaceName().equals(t.interfaceName()) || n.name().equals(t.name()))) {
                out.add(t);
            }
        }
        return out;
    }

    /** The unplugged interface's tap is no longer the pod's: the status lists the others. */
    @Override
    public void interfaceReleased(LauncherContext ctx, String interfaceName, String tapName, boolean deleted) {
        update(ctx, e -> e.taps(e.taps().stream().filter(t -> !t.name().equals(tapName)).toList()));
    }

    /** A launcher call for the VMI {@code key} (from pod {@code podUid}) failed. */
    public void callFailed(String key, String podUid, String method, String code, String message, String caller) {
        NodeStatus.CallError err = new NodeStatus.CallError(method, code, message, clock.instant(), caller);
        entries.compute(key, (k, e) -> (e == null ? Entry.EMPTY : e).pod(podUid).error(err));
    }

    /** A launcher call failed before it could be tied to a VMI (e.g. a caller in no launcher pod). */
    public void unattributedFailure(String method, String code, String message, String caller) {
        unattributed.set(new NodeStatus.CallError(method, code, message, clock.instant(), caller));
    }

    void reconcileFailed(VmiDocument vmi, String reason, String message) {
        NodeStatus.CallError err = new NodeStatus.CallError("reconcile/" + reason, "",
                message == null ? "" : message, clock.instant(), "");
        entries.compute(vmi.key(), (k, e) -> (e == null ? Entry.EMPTY : e).error(err));
    }

    /** Drops what is known about {@code key} (the VMI left this node). */
    public void forget(String key) {
        entries.remove(key);
    }

    Optional<Entry> get(String key) {
        return Optional.ofNullable(entries.get(key));
    }

    Optional<NodeStatus.CallError> lastUnattributed() {
        return Optional.ofNullable(unattributed.get());
    }

    private void update(LauncherContext ctx, UnaryOperator<Entry> change) {
        entries.compute(ctx.vmi().key(), (k, e) -> change.apply((e == null ? Entry.EMPTY : e).pod(ctx.podUid())));
    }

    private static List<Integer> list(BitSet b) {
        List<Integer> out = new ArrayList<>();
        b.stream().forEach(out::add);
        return out;
    }
}
