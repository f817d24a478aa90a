package io.vmhandler.core.reconcile;

import static io.vmhandler.core.reconcile.VmiStateRecorder.*;

import io.vmhandler.core.checkpoint.CheckpointRecord;
import io.vmhandler.core.checkpoint.Checkpoints;
import io.vmhandler.core.directory.VmiDirectory;
import io.vmhandler.core.loop.ReconcileResult;
import io.vmhandler.core.loop.Reconciler;
import io.vmhandler.core.memlock.MemlockLimits;
import io.vmhandler.core.metrics.DaemonMetrics;
import io.vmhandler.core.metrics.PrivilegedOp;
import io.vmhandler.core.model.VmiDocument;
import io.vmhandler.core.pinning.PinResult;
import io.vmhandler.core.pinning.Pinner;
import io.vmhandler.core.plan.InvalidVmiSpecException;
import io.vmhandler.core.plan.VmiPlan;
import io.vmhandler.core.plan.VmiPlanner;
import io.vmhandler.memlock.LibvirtVersion;
import io.vmhandler.memlock.MemlockFormula;
import io.vmhandler.memlock.MemlockResult;
import io.vmhandler.nativeio.LinuxConstants;
import java.io.IOException;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One VMI key at a time (the loop serializes keys): keeps the {@link VmiDirectory} current, builds the
 * VMI's {@link VmiPlan} (which is the validation; the launcher calls then read the same cached plan),
 * re-applies memlock to the recorded processes when devices or memory
 * changed (hotplug), re-pins when the vCPU count changed, and drops all state when the VMI is gone.
 * Every step is idempotent, so a restart at any point converges: the checkpoint says which processes
 * were acted on, and their start times say whether they are still the same processes.
 *
 * <p>Every collaborator is an interface or a plain value, so this runs on in-memory fakes in unit tests.
 */
public final class VmiReconciler implements Reconciler<String> {
    private static final Logger log = LoggerFactory.getLogger(VmiReconciler.class);
    private static final String FAILED = "failed";

    private final Function<String, Optional<VmiDocument>> source;
    private final VmiDirectory directory;
    private final Checkpoints store;
    private final VmiPlanner planner;
    private final MemlockFormula formula;
    private final MemlockLimits applier;
    private final Pinner pinner;
    private final LiveProcesses processes;
    private final DaemonMetrics metrics;
    private final VmiNotifier notifier;

    /**
     * @param directory the directory to keep current, or null when something else feeds it (standalone
     *     mode's file source): then the reconciler only re-applies
     */
    public VmiReconciler(Function<String, Optional<VmiDocument>> source, VmiDirectory directory, Checkpoints store,
                         VmiPlanner planner, MemlockFormula formula, MemlockLimits applier, Pinner pinner,
                         LiveProcesses processes, DaemonMetrics metrics, VmiNotifier notifier) {
        this.source = source;
        this.directory = directory;
        this.store = store;
        this.planner = planner;
        this.formula = formula;
        this.applier = applier;
        this.pinner = pinner;
        this.processes = processes;
        this.metrics = metrics;
        this.notifier = notifier;
    }

    @Override
    public ReconcileResult reconcile(String key) throws Exception {
        Optional<VmiDocument> found = source.apply(key);
        if (found.isEmpty()) {
            forget(key);
            return ReconcileResult.done();
        }
        VmiDocument vmi = found.get();
        if (directory != null) {
            directory.put(vmi);
            if (directory.get(key).isEmpty()) {
                forget(key); // labelled for another node now
                return ReconcileResult.done();
            }
        }
        VmiPlan plan;
        try {
            plan = planner.plan(vmi);
        } catch (InvalidVmiSpecException e) {
            notifier.warning(vmi, "InvalidSpec", e.getMessage());
            notifier.failed(vmi, "InvalidSpec", e.getMessage());
            String uid = uid(vmi);
            store.put(store.get(uid).orElse(CheckpointRecord.empty(uid)).with(KEY, key).with(FAILED, "InvalidSpec"));
            return ReconcileResult.failPermanently("invalid spec: " + e.getMessage());
        }
        Optional<CheckpointRecord> rec = store.get(plan.checkpointUid());
        if (rec.isPresent()) {
            CheckpointRecord r = reapplyMemlock(plan, rec.get());
            r = repin(plan, r);
            if (r.get(FAILED).isPresent()) {
                notifier.recovered(vmi);
                r = r.without(FAILED);
            }
            if (!r.equals(rec.get())) {
                store.put(r);
            }
        }
        return ReconcileResult.done();
    }

    @Override
    public void onGiveUp(String key, String reason, Throwable cause) {
        source.apply(key).ifPresent(vmi -> notifier.failed(vmi, "SyncFailed", reason));
    }

    private CheckpointRecord reapplyMemlock(VmiPlan plan, CheckpointRecord r) throws IOException {
        if (r.get(MEMLOCK_PID).isEmpty() || r.get(LIBVIRT).isEmpty()) {
            return r;
        }
        VmiDocument vmi = plan.vmi();
        MemlockResult want = formula.compute(plan.memlock(), LibvirtVersion.parse(LIBVIRT, r.get(LIBVIRT).get()));
        if (want.plain().equals(r.get(MEMLOCK_LIMIT).orElse(""))) {
            return r;
        }
        long limit = want.unlimited() ? LinuxConstants.RLIM_INFINITY : want.bytes();
        int applied = 0;
        // libvirt raises QEMU's limit itself on hotplug, but only succeeds if it is already high enough
        // (docs/memlock.md §7.3): so QEMU gets it too when it was pinned through us
        for (String[] p : new String[][] {{MEMLOCK_PID, MEMLOCK_START}, {QEMU_PID, QEMU_START}}) {
            OptionalLong pid = sameProcess(r, p[0], p[1]);
            if (pid.isPresent()) {
                int target = (int) pid.getAsLong();
                metrics.time(PrivilegedOp.MEMLOCK_APPLY, () -> applier.apply(target, limit));
                applied++;
            }
        }
        log.atInfo().addKeyValue("vmi", vmi.key()).addKeyValue("bytes", want.plain())
                .log("memlock of {} re-applied after a spec change: {} -> {} on {} process(es)", vmi.key(),
                        r.get(MEMLOCK_LIMIT).orElse("?"), want.plain(), applied);
        metrics.vmiMemlockBytes(vmi.key(), want.unlimited() ? -1 : want.bytes());
        notifier.normal(vmi, "MemlockApplied", "RLIMIT_MEMLOCK re-applied after a spec change: " + want.plain());
        return r.with(MEMLOCK_LIMIT, want.plain());
    }

    private CheckpointRecord repin(VmiPlan plan, CheckpointRecord r) throws IOException {
        OptionalLong qemu = sameProcess(r, QEMU_PID, QEMU_START);
        if (qemu.isEmpty()) {
            return r;
        }
        int vcpus = plan.placement().vcpus();
        if (Integer.toString(vcpus).equals(r.get(VCPUS).orElse(""))) {
            return r;
        }
        VmiDocument vmi = plan.vmi();
        int pid = (int) qemu.getAsLong();
        PinResult p = metrics.time(PrivilegedOp.PIN_VCPUS, () -> pinner.pin(pid, vmi.key(), plan.placement()));
        metrics.vmiPinnedVcpus(vmi.key(), p.vcpus().size());
        notifier.normal(vmi, "VcpusPinned", "re-pinned after a vCPU change: " + p.vcpus().size() + " vCPU thread(s)");
        return r.with(VCPUS, Integer.toString(vcpus));
    }

    /** The recorded pid, only if it still names the process we acted on (same start time). */
    private OptionalLong sameProcess(CheckpointRecord r, String pidKey, String startKey) {
        Optional<String> pid = r.get(pidKey);
        Optional<String> start = r.get(startKey);
        if (pid.isEmpty() || start.isEmpty()) {
            return OptionalLong.empty();
        }
        try {
            int p = Integer.parseInt(pid.get());
            OptionalLong now = processes.startTime(p);
            return now.isPresent() && now.getAsLong() == Long.parseLong(start.get()) ? OptionalLong.of(p)
                    : OptionalLong.empty();
        } catch (NumberFormatException e) {
            return OptionalLong.empty();
        }
    }

    private void forget(String key) {
        if (directory != null) {
            directory.remove(key);
        }
        for (CheckpointRecord r : store.list()) {
            if (key.equals(r.get(KEY).orElse(null))) {
                store.remove(r.uid());
                log.atInfo().addKeyValue("vmi", key).log("state of {} removed: the VMI is gone from this node", key);
            }
        }
        planner.forget(key);
        metrics.forgetVmi(key);
    }
}
