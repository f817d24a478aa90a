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
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * PrepareNetwork and Release: the VMI's taps, in the caller's own network namespace (entered through
 * the caller's pidfd, or a netns fd bound to it by the pidfd, so a pid reused since the call began can
 * never redirect us), owned by the caller's uid and gid as the kernel reported them. The taps are the
 * VMI plan's; the tap devices are an interface, so this runs on fakes in unit tests.
 *
 * <p>Each tap also gets the plan's bandwidth limits (the pod's {@code kubernetes.io/ingress-bandwidth} and
 * {@code egress-bandwidth} annotations, docs/tap-qos.md), applied and read back on every PrepareNetwork, so a
 * changed annotation takes effect with the launcher's next PrepareNetwork and a removed one removes the limits;
 * Release removes them (and the ifb that carries the from-guest limit) before it deletes the tap.
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

    /** Without tap QoS: a plan that asks for bandwidth limits is refused (unit tests on fake tap devices). */
    public LauncherNetwork(TapDevices taps) {
        this(taps, null, null);
    }

    /** @param qos the tap bandwidth limits; {@code metrics} times their apply and removal (null: not timed) */
    public LauncherNetwork(TapDevices taps, TapQos qos, DaemonMetrics metrics) {
        this.taps = taps;
        this.qos = qos;
        this.metrics = metrics;
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
            try {
                for (PlannedTap p : plan.taps()) {
                    TapResult r = taps.create(netns, p.spec(ctx.caller().uid(), ctx.caller().gid()));
                    done.add(new PreparedTap(p.interfaceName(), r));
                }
                for (PreparedTap t : done) {
                    limit(netns, t, plan.qos());
                }
                ctx.process().requireAlive();
            } catch (IOException | RuntimeException e) {
                rollback(ctx, netns, done);
                throw e;
            }
        }
        log.atInfo().addKeyValue("vmi", ctx.vmi().key()).addKeyValue("pod", ctx.podUid())
                .addKeyValue("taps", done.size())
                .log("prepared network of {}: {} tap(s) in the netns of pid {}", ctx.vmi().key(), done.size(),
                        ctx.caller().pid());
        return done;
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
            if (metrics == null) {
                qos.remove(netns, name);
            } else {
                metrics.time(PrivilegedOp.TAP_QOS_REMOVE, () -> qos.remove(netns, name));
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
     * Deletes the named taps (those PrepareNetwork recorded, else the plan's) from the caller's netns;
     * returns how many existed and adds their names to {@code removed}. Idempotent.
     *
     * <p>Like {@link #prepare}, the whole call works in one netns fd taken at its start: a caller killed between
     * two deletions would otherwise make the next setns through its pidfd fail (ESRCH) and leave the rest of its
     * taps behind, half released.
     */
    public int release(LauncherContext ctx, List<String> tapNames, List<String> removed) throws IOException {
        int deleted = 0;
        try (Fd netns = ctx.process().openNetns()) {
            for (String name : tapNames) {
                if (qos != null) {
                    // the from-guest limit lives on an ifb of the pod's netns, which deleting the tap would leave
                    try {
                        qos.remove(netns, name);
                    } catch (SyscallException e) {
                        if (!"ENODEV".equals(e.errnoName())) {
                            throw e;
                        }
                        // no such tap: already released, nothing to limit
                    }
                }
                if (taps.delete(netns, name)) {
                    deleted++;
                    removed.add(name);
                }
            }
        }
        log.atInfo().addKeyValue("vmi", ctx.vmi().key()).addKeyValue("pod", ctx.podUid())
                .log("released network of {}: {} tap(s) deleted", ctx.vmi().key(), deleted);
        return deleted;
    }
}
