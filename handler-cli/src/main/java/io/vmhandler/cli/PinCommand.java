package io.vmhandler.cli;

import io.vmhandler.core.json.Json;
import io.vmhandler.cgroups.CgroupManager;
import io.vmhandler.core.model.VmiDocument;
import io.vmhandler.core.plan.CpuPlacement;
import io.vmhandler.core.plan.VcpuTopology;
import io.vmhandler.core.pinning.PinResult;
import io.vmhandler.core.pinning.Skip;
import io.vmhandler.core.pinning.VcpuPinner;
import io.vmhandler.nativeio.CpuSet;
import io.vmhandler.proc.ProcFs;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * {@code vmhandler pin --pid PID --vmi FILE [--cpus LIST] [--json]}: pins a running QEMU's threads
 * per the VMI's CPU spec. Exits 0 when every vCPU is pinned as asked, 1 when something was skipped
 * that leaves a vCPU unpinned (the output says what and why), 2 on bad input.
 */
public final class PinCommand implements Command {
    private final Supplier<CgroupManager> cgroups;
    private final Path procRoot;

    public PinCommand(Supplier<CgroupManager> cgroups) {
        this(cgroups, ProcFs.DEFAULT_ROOT);
    }

    /** @param procRoot where the QEMU's threads and the kvm-pit thread are read ({@code /proc}) */
    public PinCommand(Supplier<CgroupManager> cgroups, Path procRoot) {
        this.cgroups = cgroups;
        this.procRoot = procRoot;
    }

    @Override
    public String name() {
        return "pin";
    }

    @Override
    public String summary() {
        return "pin a QEMU's vCPU threads to the pod's CPUs and its other threads to housekeeping";
    }

    @Override
    public String usage() {
        return """
                usage: vmhandler pin --pid PID --vmi FILE [--cpus LIST] [--json]
                  --pid   the QEMU process, 1..4194304; its vCPU threads are found by name (CPU n/KVM, CPU n/TCG)
                  --vmi   a kubevirt.io/v1 VirtualMachineInstance (YAML or JSON); spec.domain.cpu is read:
                          sockets, cores, threads, dedicatedCpuPlacement, isolateEmulatorThread, realtime.mask
                  --cpus  the CPUs to use, as a cpulist (0-3,8); must lie inside the cpuset of the pid's cgroup.
                          Default: that cpuset (v1 cpuset.cpus, v2 cpuset.cpus.effective)
                with dedicatedCpuPlacement vCPU i gets the i-th CPU; other threads get the housekeeping set
                (the CPUs after the vCPUs' with isolateEmulatorThread, else all) and the housekeeping cgroup.
                Prints the vCPU -> CPU map and the housekeeping set; exits 1 if a vCPU could not be pinned.
                Threads are read under /proc, or $VMHANDLER_PROC_ROOT.
                """;
    }

    @Override
    public int run(List<String> argv, PrintStream out, PrintStream err) throws Exception {
        Args a = Args.parse(argv, Set.of("pid", "vmi", "cpus"), Set.of("json"));
        if (!a.positionals().isEmpty()) {
            throw new UsageException("unexpected argument '" + a.positionals().get(0) + "'");
        }
        int pid = a.intValue("pid", 1, CgroupCommand.PID_MAX);
        Path file = Path.of(a.required("vmi"));
        if (!Files.isRegularFile(file)) {
            throw new UsageException("--vmi " + file + ": no such file");
        }
        BitSet cpus = null;
        if (a.has("cpus")) {
            try {
                cpus = CpuSet.parseList(a.optional("cpus"));
            } catch (IllegalArgumentException e) {
                throw new UsageException("--cpus: " + e.getMessage());
            }
            if (cpus.isEmpty()) {
                throw new UsageException("--cpus must name at least one CPU");
            }
        }
        VmiDocument vmi = VmiDocument.read(file);
        CpuPlacement placement = CpuPlacement.from(vmi, VcpuTopology.of(vmi));
        VcpuPinner pinner = new VcpuPinner(cgroups.get(), procRoot);
        PinResult r = pinner.pin(pid, vmi.key(), placement, cpus, null);
        if (a.flag("json")) {
            out.println(Json.write(json(r)));
        } else {
            text(r, placement, out);
        }
        return r.complete() ? 0 : 1;
    }

    private static void text(PinResult r, CpuPlacement p, PrintStream out) {
        out.printf("pid %d (vmi %s): %s, %d vCPUs, CPUs %s from %s%n", r.pid(), r.vmi(),
                r.dedicated() ? "dedicated" : "shared", p.vcpus(), CpuSet.formatList(r.cpus()),
                r.cpusSource().equals("cgroup") ? "the pod cgroup" : "--cpus");
        for (PinResult.VcpuPin v : r.vcpus()) {
            out.printf("vcpu %d -> cpu %s (tid %d%s)%n", v.vcpu(), CpuSet.formatList(v.cpus()), v.tid(),
                    v.realtime() ? ", SCHED_FIFO" : "");
        }
        out.printf("housekeeping cpus %s: %d threads%s%n", CpuSet.formatList(r.housekeepingCpus()), r.housekeepingTids().size(),
                r.housekeepingCgroup().map(h -> ", cgroup " + h.path()).orElse(""));
        r.kvmPit().ifPresent(k -> out.printf("kvm-pit -> cpu %s (tid %d%s)%n", CpuSet.formatList(k.cpus()), k.tid(),
                k.realtime() ? ", SCHED_FIFO 2" : ""));
        out.printf("changed %d, unchanged %d%s%n", r.changed(), r.unchanged(), r.pidGone() ? "; the process exited" : "");
        if (!r.skipped().isEmpty()) {
            out.println("skipped:");
            r.skipped().forEach(s -> out.println("  " + s));
        }
    }

    static Map<String, Object> json(PinResult r) {
        Map<String, Object> j = new LinkedHashMap<>();
        j.put("pid", r.pid());
        j.put("vmi", r.vmi());
        j.put("mode", r.dedicated() ? "dedicated" : "shared");
        j.put("cpus", CpuSet.formatList(r.cpus()));
        j.put("cpusSource", r.cpusSource());
        List<Object> vcpus = new ArrayList<>();
        for (PinResult.VcpuPin v : r.vcpus()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("vcpu", v.vcpu());
            m.put("tid", v.tid());
            m.put("cpus", CpuSet.formatList(v.cpus()));
            m.put("changed", v.changed());
            m.put("realtime", v.realtime());
            vcpus.add(m);
        }
        j.put("vcpus", vcpus);
        Map<String, Object> hk = new LinkedHashMap<>();
        hk.put("cpus", CpuSet.formatList(r.housekeepingCpus()));
        hk.put("tids", r.housekeepingTids());
        hk.put("cgroup", r.housekeepingCgroup().map(h -> h.path()).orElse(null));
        hk.put("cgroupCpuset", r.housekeepingCgroup().flatMap(h -> h.cpus()).map(CpuSet::formatList).orElse(null));
        hk.put("cgroupNote", r.housekeepingCgroup().flatMap(h -> h.note()).orElse(null));
        j.put("housekeeping", hk);
        j.put("kvmPit", r.kvmPit().map(k -> {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("tid", k.tid());
            m.put("cpus", CpuSet.formatList(k.cpus()));
            m.put("changed", k.changed());
            m.put("realtime", k.realtime());
            return m;
        }).orElse(null));
        List<Object> skipped = new ArrayList<>();
        for (Skip s : r.skipped()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("subject", s.subject());
            m.put("tid", s.tid() < 0 ? null : s.tid());
            m.put("reason", s.reason().label());
            m.put("detail", s.detail());
            m.put("vcpu", s.vcpu());
            skipped.add(m);
        }
        j.put("skipped", skipped);
        j.put("changed", r.changed());
        j.put("unchanged", r.unchanged());
        j.put("pidGone", r.pidGone());
        j.put("complete", r.complete());
        j.put("elapsedMicros", r.elapsedNanos() / 1000);
        return j;
    }
}
