package io.vmhandler.core.launcher;

import io.vmhandler.core.plan.NetworkPlan.PlannedTap;
import io.vmhandler.core.plan.VmiPlan;
import io.vmhandler.nativeio.Fd;
import io.vmhandler.nativeio.SyscallException;
import io.vmhandler.core.metrics.DaemonMetrics;
import io.vmhandler.core.metrics.PrivilegedOp;
import io.vmhandler.net.QosSpec;
import io.vmhandler.net.QosState;
import io.vmhandler.net.TapDevices;
import io.vmhandler.net.TapQos;
import io.vmhandler.net.TapResult;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.event.Level;

/**
 * PrepareNetwork and Release: the VMI's taps, in the caller's own network namespace (entered through
 * the caller's pidfd, or a netns fd bound to it by the pidfd, so a pid reused since the call began can
 * never redirect us), owned by the caller's uid and gid as the kernel reported them. The taps are the
 * VMI plan's; the tap devices are an interface, so this runs on fakes in unit tests.
 *
 * <p>Each tap also gets the plan's bandwidth limits (the pod's {@code kubernetes.io/ingress-bandwidth} and
 * {@code egress-bandwidth} annotations, docs/tap-qos.md), applied and read back on every PrepareNetwork, so a
 * changed annotation takes effect with the launcher's next PrepareNetwork and a removed one removes the limits;
 * Release removes them (and the ifb that carries the from-guest limit) before it deletes the tap; a tap handed to
 * the reaper keeps them until the reaper removes the ifb and deletes the tap.
 *
 * <p>Release with a {@link TapReaper} answers before the kernel has deleted the taps: their ifindexes are
 * checkpointed, the reaper deletes them in the background, and the pod's next PrepareNetwork waits for that
 * (see {@link #release}).
 *
 * <p>Stateless: two calls at once for the same pod both create-or-adopt, and the tap devices make
 * that safe (an existing tap with the same settings is adopted); the backend orders calls per pod.
 */
public final class LauncherNetwork {
    private static final Logger log = LoggerFactory.getLogger(LauncherNetwork.class);

    /** One tap as prepared: the VMI interface it serves and what was done. */
    public record PreparedTap(String interfaceName, TapResult result) {}

    private final TapDevices taps;
    private final TapQos qos;
    private final DaemonMetrics metrics;
    private final TapReaper reaper;

    /** Without tap QoS: a plan that asks for bandwidth limits is refused (unit tests on fake tap devices). */
    public LauncherNetwork(TapDevices taps) {
        this(taps, null, null);
    }

    /** @param qos the tap bandwidth limits; {@code metrics} times their apply and removal (null: not timed) */
    public LauncherNetwork(TapDevices taps, TapQos qos, DaemonMetrics metrics) {
        this(taps, qos, metrics, null);
    }

    /** @param reaper deletes released taps in the background (null: Release deletes them itself) */
    public LauncherNetwork(TapDevices taps, TapQos qos, DaemonMetrics metrics, TapReaper reaper) {
        this.taps = taps;
        this.qos = qos;
        this.metrics = metrics;
        this.reaper = reaper;
    }

    /**
     * Creates (or adopts) every tap the VMI needs. All or nothing: if one fails, or the caller dies
     * before the last one is made, the taps this call created are removed again before the error is
     * thrown; adopted ones are left as they were.
     *
     * <p>The whole call works in one netns fd taken at its start, not through the pidfd: a caller
     * killed midway (its pod's netns lives on, held by the pod's other processes) would otherwise make
     * the rollback's setns fail with ESRCH and leave a tap nobody asked for (FaultInjectionIT).
     */
    public List<PreparedTap> prepare(LauncherContext ctx, VmiPlan plan) throws IOException {
        List<PreparedTap> done = new ArrayList<>();
        try (Fd netns = ctx.process().openNetns()) {
            // one namespace entry for the whole call: every tap, its limits and a rollback run inside it with one
            // setns in and out and one netlink socket, not one of each per tap and per QoS look
            taps.within(netns, () -> {
                try {
                    // the first tap looks; the others follow what it found and take its MTU (TapDevices.createAll)
                    List<PlannedTap> planned = plan.taps();
                    taps.createAll(netns, planned.stream().map(p -> p.spec(ctx.caller().uid(), ctx.caller().gid()))
                            .toList(), (i, r) -> done.add(new PreparedTap(planned.get(i).interfaceName(), r)));
                    for (PreparedTap t : done) {
                        limit(netns, t, plan.qos());
                    }
                    // a caller that died meanwhile gets back nothing this call made; a call that only adopted made
                    // nothing the rollback would remove, so it spares the check (a syscall on every launcher retry)
                    if (createdAny(done)) {
                        ctx.process().requireAlive();
                    }
                } catch (IOException | RuntimeException e) {
                    rollback(ctx, netns, done);
                    throw e;
                }
                return null;
            });
        }
        // a launcher repeats PrepareNetwork (restarts, retries): a call that only adopted changed nothing, so DEBUG
        boolean created = createdAny(done);
        log.atLevel(created ? Level.INFO : Level.DEBUG).addKeyValue("vmi", ctx.vmi().key())
                .addKeyValue("pod", ctx.podUid()).addKeyValue("taps", done.size())
                .log("prepared network of {}: {} tap(s) in the netns of pid {}", ctx.vmi().key(), done.size(),
                        ctx.caller().pid());
        return done;
    }

    private static boolean createdAny(List<PreparedTap> taps) {
        return taps.stream().anyMatch(t -> t.result().outcome() == TapResult.Outcome.CREATED);
    }

    /**
     * Makes the tap's limits the plan's. A tap this call created has no qdisc yet, so "unlimited" costs nothing
     * there; an adopted one may carry limits of an annotation since removed, so it is always brought in line.
     */
    private void limit(Fd netns, PreparedTap t, QosSpec spec) throws IOException {
        String name = t.result().state().name();
        boolean fresh = t.result().outcome() == TapResult.Outcome.CREATED;
        if (spec.unlimited() && (fresh || qos == null)) {
            return;
        }
        if (qos == null) {
            throw new IllegalStateException("tap bandwidth limits are not available on this node");
        }
        if (spec.unlimited()) {
            // by the ifindex create just read in this same namespace entry: no second look-up of the name
            int ifindex = t.result().ifindex();
            if (metrics == null) {
                qos.remove(netns, name, ifindex);
            } else {
                metrics.time(PrivilegedOp.TAP_QOS_REMOVE, () -> qos.remove(netns, name, ifindex));
            }
        } else {
            QosState state = metrics == null ? qos.apply(netns, name, spec)
                    : metrics.time(PrivilegedOp.TAP_QOS_APPLY, () -> qos.apply(netns, name, spec));
            log.atInfo().addKeyValue("tap", name).addKeyValue("qos", state.toString())
                    .log("bandwidth limits of tap {}: {}", name, state);
        }
    }

    private void rollback(LauncherContext ctx, Fd netns, List<PreparedTap> done) {
        for (PreparedTap t : done) {
            if (t.result().outcome() == TapResult.Outcome.CREATED) {
                try {
                    taps.delete(netns, t.result().state().name());
                } catch (IOException | RuntimeException e) {
                    log.atWarn().addKeyValue("vmi", ctx.vmi().key())
                            .log("rollback of tap {} failed: {}", t.result().state().name(), e.getMessage());
                }
            }
        }
    }

    /**
     * How long PrepareNetwork and ReleaseInterface wait for the pod's pending deletions ({@link #awaitReleased}):
     * the pod's own cap of {@link TapReaper#MAX_PENDING_PER_POD} taps takes about 0.5 s on 4 deleter threads at
     * 16 ms a tap, a full deleter queue (1024) about 4 s.
     */
    static final java.time.Duration PENDING_WAIT = java.time.Duration.ofSeconds(5);

    /**
     * Takes the named taps (those PrepareNetwork recorded, else the plan's) out of the caller's netns; returns how
     * many it took and adds their names to {@code removed}. Idempotent. A tap deleted here has its bandwidth limits
     * (and the ifb that carries the from-guest one) removed first; a tap handed to the reaper has them removed by it.
     *
     * <p>With a {@link TapReaper} nothing here takes RTNL: one netns fd from the caller's pidfd, the taps' ifindexes
     * by SIOCGIFINDEX ({@link TapDevices#indexes}), one checkpoint write and the hand-over ({@link TapReaper#release});
     * the taps keep their names until the reaper has deleted them, and the pod's next PrepareNetwork or
     * ReleaseInterface waits for that ({@link #awaitReleased}). Without one (or when the pod has too many deletions
     * pending already) the taps are deleted before this returns, waiting for the kernel's RCU grace period per tap.
     *
     * <p>The whole call works in one netns fd taken at its start: a caller killed between two taps would otherwise
     * make the next setns through its pidfd fail (ESRCH) and leave the rest of its taps behind. Two Releases of one
     * pod at once (the backend orders them, but a direct caller may not), or one retried while the reaper deletes,
     * hand each tap over once: the second finds the ifindexes recorded and reports nothing removed.
     */
    public int release(LauncherContext ctx, List<String> tapNames, List<String> removed) throws IOException {
        int done = 0;
        boolean background = false;
        Fd netns = ctx.process().openNetns();
        try {
            if (reaper != null) {
                Map<String, Integer> indexes = taps.indexes(netns, tapNames);
                Optional<List<String>> handed = reaper.release(ctx.podUid(), ctx.process().pid(),
                        ctx.process().info().startTime(), netns, indexes);
                if (handed.isPresent()) {
                    background = true; // the reaper owns netns now
                    removed.addAll(handed.get());
                    done = handed.get().size();
                }
            }
            if (!background) {
                done = delete(netns, tapNames, removed);
            }
        } finally {
            if (!background) {
                netns.close();
            }
        }
        log.atInfo().addKeyValue("vmi", ctx.vmi().key()).addKeyValue("pod", ctx.podUid())
                .addKeyValue("taps", done).addKeyValue("background", background)
                .log("released network of {}: {} tap(s) {}", ctx.vmi().key(), done,
                        background ? "handed to the background deleter" : "deleted");
        return done;
    }

    /**
     * Waits for the pod's released taps still being deleted (none without a reaper): a PrepareNetwork after a Release
     * of the same pod must not adopt or clash with a tap of the same name on its way out. Other pods' deletions never
     * count. Past {@link #PENDING_WAIT} the call fails with UNAVAILABLE naming the pod and the wait: retry.
     *
     * @param what the call, for its error
     */
    public void awaitReleased(LauncherContext ctx, String what) throws IOException {
        if (reaper == null) {
            return;
        }
        try {
            reaper.awaitPod(ctx.podUid(), PENDING_WAIT);
        } catch (TapReaper.StillPendingException e) {
            throw io.vmhandler.grpc.LauncherException.unavailable(what + ": " + e.getMessage() + "; retry", e);
        }
    }

    private int delete(Fd netns, List<String> tapNames, List<String> removed) throws IOException {
        int deleted = 0;
        for (String name : tapNames) {
            removeQos(qos, netns, name);
            if (taps.delete(netns, name)) {
                deleted++;
                removed.add(name);
            }
        }
        return deleted;
    }

    /**
     * Removes the tap's limits and their ifb, if {@code qos} is given; a tap that is gone has none left. Before the
     * tap's deletion: the from-guest limit lives on an ifb of the pod's netns, which deleting the tap would leave.
     */
    static void removeQos(TapQos qos, Fd netns, String name) throws IOException {
        if (qos == null) {
            return;
        }
        try {
            qos.remove(netns, name);
        } catch (SyscallException e) {
            if (!"ENODEV".equals(e.errnoName())) {
                throw e;
            }
            // no such tap: already released, nothing to limit
        }
    }
}
