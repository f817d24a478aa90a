package io.vmhandler.core.pinning;

import io.vmhandler.core.plan.CpuPlacement;

import static io.vmhandler.nativeio.LinuxConstants.SCHED_FIFO;
import static io.vmhandler.nativeio.LinuxConstants.SCHED_RESET_ON_FORK;

import io.vmhandler.cgroups.CgroupInfo;
import io.vmhandler.cgroups.CgroupManager;
import io.vmhandler.cgroups.Housekeeping;
import io.vmhandler.nativeio.CpuSet;
import io.vmhandler.nativeio.SyscallException;
import io.vmhandler.nativeio.Syscalls;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import jnr.constants.platform.Errno;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Pins a QEMU process's threads from outside its pod, which is what lets the launcher run
 * without CAP_SYS_NICE: vCPU threads to the pod's CPUs with sched_setaffinity, every other thread
 * to the housekeeping set and into the housekeeping cgroup, and SCHED_FIFO (priority 1, as KubeVirt's
 * virt-handler sets it in pkg/hypervisor/kvm/realtime.go) on realtime vCPUs.
 *
 * <p>Each thread is re-checked (same tid, same start time) right before it is touched, so a thread
 * that exited, or a tid reused by someone else, is reported as gone and never pinned. Affinity is
 * read first and written only when it differs, so a re-pin changes nothing and says so.
 *
 * <p>Threading: stateless; safe to call from several threads for different pids. Blocks on procfs,
 * cgroupfs and a few syscalls per thread (about 1 µs per sleeping thread, up to ~100 µs for a running
 * one that must migrate; docs/test-host.md A4).
 */
public final class VcpuPinner implements Pinner {
    private static final Logger log = LoggerFactory.getLogger(VcpuPinner.class);
    private static final int FIFO_PRIORITY = 1;
    /** The kvm-pit thread of a realtime VM runs SCHED_FIFO one above the vCPUs (KubeVirt affinePitThread). */
    private static final int PIT_FIFO_PRIORITY = 2;

    private final CgroupManager cgroups;
    private final QemuThreads threads;
    private final KvmPitThreads pits;
    private final Path sysCpuOnline;

    public VcpuPinner(CgroupManager cgroups, Path procRoot) {
        this(cgroups, procRoot, Path.of("/sys/devices/system/cpu/online"));
    }

    VcpuPinner(CgroupManager cgroups, Path procRoot, Path sysCpuOnline) {
        this.cgroups = cgroups;
        this.threads = new QemuThreads(procRoot);
        this.pits = new KvmPitThreads(procRoot);
        this.sysCpuOnline = sysCpuOnline;
    }

    public QemuThreads threads() {
        return threads;
    }

    @Override
    public PinResult pin(int pid, String vmi, CpuPlacement placement) throws IOException {
        return pin(pid, vmi, placement, null, null);
    }

    @Override
    public boolean hasVcpuThreads(int pid) throws IOException {
        return !threads.scan(pid).vcpus().isEmpty();
    }

    /**
     * Resolves the pid's cgroup and CPUs, finds its threads and pins them.
     *
     * @param cpusOverride CPUs to use instead of the pod cpuset; must lie inside it (or inside the
     *     online CPUs when the cgroup has no cpuset), or null
     * @param vcpuTids the vCPU tids in vCPU order from the caller (QMP), or null to find them by name
     */
    public PinResult pin(int pid, String vmi, CpuPlacement placement, BitSet cpusOverride, List<Integer> vcpuTids)
            throws IOException {
        CgroupInfo info = cgroups.resolve(pid);
        Optional<BitSet> podCpus = Optional.empty();
        String noCpuset = null;
        try {
            podCpus = Optional.of(cgroups.cpuset(info));
        } catch (IOException e) {
            noCpuset = e.getMessage();
        }
        BitSet cpus;
        String source;
        if (cpusOverride != null) {
            BitSet bound = podCpus.isPresent() ? podCpus.get() : online();
            String boundName = podCpus.isPresent() ? "the cpuset of pid " + pid + "'s cgroup" : "the online CPUs";
            BitSet outside = (BitSet) cpusOverride.clone();
            outside.andNot(bound);
            if (cpusOverride.isEmpty() || !outside.isEmpty()) {
                throw new IllegalArgumentException("--cpus " + CpuSet.formatList(cpusOverride) + " must be a non-empty subset of "
                        + boundName + " (" + CpuSet.formatList(bound) + ")");
            }
            cpus = cpusOverride;
            source = "--cpus";
        } else {
            if (podCpus.isEmpty()) {
                throw new NoCpusetException("pid " + pid + " has no cpuset to pin to; pass --cpus (" + noCpuset + ")");
            }
            cpus = podCpus.get();
            source = "cgroup";
        }
        QemuThreads.Snapshot snap = vcpuTids == null ? threads.scan(pid) : threads.fromVcpuTids(pid, vcpuTids);
        PinPlan plan = PinPlan.of(placement, cpus, snap);
        return apply(vmi, placement, plan, snap, info, source);
    }

    /** Carries out a plan on a snapshot; the steps in between may find threads gone. */
    public PinResult apply(String vmi, CpuPlacement placement, PinPlan plan, QemuThreads.Snapshot snap, CgroupInfo info,
            String cpusSource) throws IOException {
        long t0 = System.nanoTime();
        int pid = snap.pid();
        List<Skip> skipped = new ArrayList<>(plan.skipped());
        Optional<Housekeeping> hk = Optional.empty();
        Set<Integer> inHousekeeping = new HashSet<>();
        if (plan.dedicated()) {
            if (info.pod().isEmpty()) {
                skipped.add(Skip.other("housekeeping cgroup", Skip.Reason.NO_HOUSEKEEPING_CGROUP, "pid " + pid
                        + " is not in a kubelet pod cgroup (" + info.containerPath() + "); only affinity is set"));
            } else {
                try {
                    hk = Optional.of(cgroups.ensureHousekeeping(info, plan.housekeeping()));
                    inHousekeeping.addAll(cgroups.threads(info, true));
                    hk.get().note().ifPresent(n -> log.atInfo().addKeyValue("pid", pid).log(n));
                } catch (IOException | IllegalArgumentException e) {
                    skipped.add(Skip.other("housekeeping cgroup", Skip.Reason.NO_HOUSEKEEPING_CGROUP, e.getMessage()));
                }
            }
        }
        Counter count = new Counter();
        List<PinResult.VcpuPin> pins = new ArrayList<>();
        Set<Integer> vcpuTids = new HashSet<>();
        for (Map.Entry<Integer, BitSet> e : plan.vcpuCpus().entrySet()) {
            QemuThreads.Task task = snap.vcpu(e.getKey()).orElseThrow().task();
            vcpuTids.add(task.tid());
            if (!threads.same(pid, task)) {
                skipped.add(Skip.vcpu(e.getKey(), task.tid(), Skip.Reason.THREAD_GONE, "the thread exited before it was pinned"));
                continue;
            }
            try {
                if (hk.isPresent() && inHousekeeping.contains(task.tid())) {
                    // a vCPU thread born in housekeeping (hot-plug: QEMU's main thread creates them) must
                    // leave it, or a v1 cpuset would refuse its dedicated CPU
                    cgroups.moveToContainer(info, task.tid());
                }
                boolean changed = setAffinity(task.tid(), e.getValue(), count);
                boolean rt = false;
                if (placement.realtime() && placement.realtimeVcpus().get(e.getKey())) {
                    try {
                        rt = fifo(task.tid(), count);
                    } catch (SyscallException ex) {
                        skipped.add(Skip.vcpu(e.getKey(), task.tid(), reason(ex), "SCHED_FIFO not set: " + ex.getMessage()));
                    }
                }
                pins.add(new PinResult.VcpuPin(e.getKey(), task.tid(), e.getValue(), changed, rt));
            } catch (SyscallException ex) {
                skipped.add(Skip.vcpu(e.getKey(), task.tid(), reason(ex), ex.getMessage()));
            }
        }
        Optional<PinResult.PitPin> pit = Optional.empty();
        Optional<PinResult.VcpuPin> vcpu0 = pins.stream().filter(v -> v.vcpu() == 0).findFirst();
        if (plan.dedicated() && vcpu0.isPresent()) {
            pit = pinPit(pid, vcpu0.get().cpus(), placement.realtime(), skipped, count);
        }
        List<Integer> hkTids = new ArrayList<>();
        List<QemuThreads.Task> others = new ArrayList<>(snap.emulator());
        others.addAll(snap.duplicates());
        for (QemuThreads.Task task : others) {
            if (vcpuTids.contains(task.tid())) {
                continue;
            }
            if (!threads.same(pid, task)) {
                skipped.add(Skip.thread(task.tid(), Skip.Reason.THREAD_GONE, "'" + task.comm() + "' exited before it was pinned"));
                continue;
            }
            try {
                if (hk.isPresent() && !inHousekeeping.contains(task.tid())) {
                    // move first: joining a v1 cpuset resets the thread's affinity to that cpuset
                    cgroups.moveToHousekeeping(info, task.tid());
                    count.changed++;
                }
                setAffinity(task.tid(), plan.housekeeping(), count);
                hkTids.add(task.tid());
            } catch (SyscallException ex) {
                skipped.add(Skip.thread(task.tid(), reason(ex), "'" + task.comm() + "': " + ex.getMessage()));
            }
        }
        boolean gone = !threads.same(snap);
        long elapsed = System.nanoTime() - t0;
        PinResult r = new PinResult(pid, vmi, plan.dedicated(), plan.cpus(), cpusSource, pins, plan.housekeeping(), hkTids,
                hk, pit, skipped, count.changed, count.unchanged, gone, elapsed);
        log.atInfo().addKeyValue("vmi", vmi).addKeyValue("pid", pid).addKeyValue("cpus", CpuSet.formatList(plan.cpus()))
                .addKeyValue("vcpusPinned", pins.size()).addKeyValue("kvmPit", pit.map(PinResult.PitPin::tid).orElse(-1)).addKeyValue("housekeeping", CpuSet.formatList(plan.housekeeping()))
                .addKeyValue("changed", count.changed).addKeyValue("skipped", skipped.size()).addKeyValue("pidGone", gone)
                .log("pinned QEMU threads");
        return r;
    }

    private static final class Counter {
        int changed;
        int unchanged;
    }

    private static boolean setAffinity(int tid, BitSet cpus, Counter count) throws SyscallException {
        if (Syscalls.getAffinity(tid).equals(cpus)) {
            count.unchanged++;
            return false;
        }
        Syscalls.setAffinity(tid, cpus);
        count.changed++;
        return true;
    }

    /**
     * The VM's kvm-pit kernel thread onto vCPU 0's CPUs (SCHED_FIFO 2 when realtime), as KubeVirt does for
     * dedicated CPUs, but only when the thread is provably this QEMU's ({@link KvmPitThreads}); a thread
     * that cannot be attributed is reported and left alone.
     */
    private Optional<PinResult.PitPin> pinPit(int pid, BitSet cpus, boolean realtime, List<Skip> skipped, Counter count)
            throws SyscallException {
        KvmPitThreads.Lookup lookup;
        try {
            lookup = pits.find(pid);
        } catch (IOException e) {
            // QEMU itself is gone (its status unreadable); the message names host paths, so the log keeps it
            log.atDebug().addKeyValue("pid", pid).log("kvm-pit lookup failed: {}", e.getMessage());
            skipped.add(Skip.other("kvm-pit", Skip.Reason.THREAD_GONE, "QEMU exited while its kvm-pit thread was looked up"));
            return Optional.empty();
        }
        if (lookup instanceof KvmPitThreads.Lookup.None none) {
            if (none.ambiguous()) {
                skipped.add(Skip.other("kvm-pit", Skip.Reason.AMBIGUOUS_KVM_PIT, none.why()));
            } else {
                log.atDebug().addKeyValue("pid", pid).log("kvm-pit not pinned: {}", none.why());
            }
            return Optional.empty();
        }
        KvmPitThreads.Lookup.Found found = (KvmPitThreads.Lookup.Found) lookup;
        if (!pits.same(found)) {
            skipped.add(Skip.other("kvm-pit", Skip.Reason.THREAD_GONE, "the thread exited before it was pinned"));
            return Optional.empty();
        }
        try {
            boolean changed = setAffinity(found.tid(), cpus, count);
            boolean rt = realtime && fifo(found.tid(), PIT_FIFO_PRIORITY, count);
            return Optional.of(new PinResult.PitPin(found.tid(), cpus, changed, rt));
        } catch (SyscallException ex) {
            skipped.add(Skip.other("kvm-pit", reason(ex), ex.getMessage()));
            return Optional.empty();
        }
    }

    private static boolean fifo(int tid, Counter count) throws SyscallException {
        return fifo(tid, FIFO_PRIORITY, count);
    }

    /** SCHED_FIFO needs CAP_SYS_NICE and, with RT group scheduling, RT budget in the thread's cpu cgroup. */
    private static boolean fifo(int tid, int priority, Counter count) throws SyscallException {
        if ((Syscalls.getScheduler(tid) & ~SCHED_RESET_ON_FORK) == SCHED_FIFO && Syscalls.getSchedPriority(tid) == priority) {
            return true;
        }
        Syscalls.setScheduler(tid, SCHED_FIFO, priority);
        count.changed++;
        return true;
    }

    /** ESRCH: the thread is gone. EPERM is a daemon misconfiguration and is thrown; the rest is the kernel refusing. */
    private static Skip.Reason reason(SyscallException e) throws SyscallException {
        if (e.errno() == Errno.ESRCH) {
            return Skip.Reason.THREAD_GONE;
        }
        if (e.errno() == Errno.EPERM && e.syscall().equals("sched_setaffinity")) {
            throw e;
        }
        return Skip.Reason.KERNEL_REFUSED;
    }

    private BitSet online() throws IOException {
        return CpuSet.parseList(Files.readString(sysCpuOnline));
    }
}
