package io.vmhandler.core.pinning;

import io.vmhandler.core.plan.CpuPlacement;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vmhandler.cgroups.QosClass;
import io.vmhandler.cgroups.testing.KubeletCgroups;
import io.vmhandler.cgroups.v1.V1CgroupManager;
import io.vmhandler.cli.demo.QemuProcess;
import io.vmhandler.nativeio.CpuSet;
import io.vmhandler.testing.HostCleanup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The kvm-pit kernel thread of real QEMUs under KVM (this machine's kvm-pvm creates one per VM, named
 * {@code kvm-pit/<pid in the creator's pid namespace>}), pinned by {@link VcpuPinner} to vCPU 0's CPU as
 * KubeVirt's virt-handler does, read back with {@code taskset -p} and {@code chrt -p}. QEMU runs as root
 * here because the host's /dev/kvm is 0600 root (docs/test-host.md §0); the kernel thread is the same.
 */
class KvmPitIT {
    private static final Path PROC = VcpuPinnerIT.PROC;

    @RegisterExtension
    final HostCleanup host = new HostCleanup();

    @BeforeEach
    void root() {
        PodQemu.requirePinningTools();
        assumeTrue(Files.exists(Path.of("/dev/kvm")), "no /dev/kvm: QEMU has no in-kernel PIT under TCG");
    }

    private static VcpuPinner pinner() {
        return new VcpuPinner(new V1CgroupManager(VcpuPinnerIT.ROOT, PROC), PROC);
    }

    private static CpuPlacement dedicated(int vcpus, boolean realtime) {
        BitSet rt = new BitSet();
        if (realtime) {
            rt.set(0, vcpus);
        }
        return new CpuPlacement(1, vcpus, 1, vcpus, true, false, realtime, rt, false);
    }

    /** A paused KVM QEMU born in a kubelet-named cpuset cgroup; in a pid namespace of its own it is pid 1 there. */
    private KvmQemu start(String cpus, int vcpus, boolean ownPidNs) throws Exception {
        String path = KubeletCgroups.cgroupfs("/vmh" + HostCleanup.suffix(), QosClass.GUARANTEED,
                KubeletCgroups.newPodUid(), KubeletCgroups.newContainerId());
        Path cpuset = KubeletCgroups.create(host, "cpuset", path, cpus);
        List<String> argv = new ArrayList<>(List.of("/bin/sh", "-c", "echo $$ > \"$1\"; shift; exec \"$@\"", "sh",
                cpuset.resolve("cgroup.procs").toString()));
        if (ownPidNs) {
            // --kill-child: QEMU dies with the unshare process the cleanup kills
            argv.addAll(List.of("unshare", "--pid", "--fork", "--kill-child", "--"));
        }
        argv.addAll(List.of(QemuProcess.QEMU.toString(), "-name", "vmh-pit-" + HostCleanup.suffix() + ",debug-threads=on",
                "-accel", "kvm", "-S", "-nographic", "-nodefaults", "-no-user-config", "-display", "none",
                "-smp", Integer.toString(vcpus), "-m", "64"));
        Process p = host.process(new ProcessBuilder(argv).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD));
        int pid = (int) p.pid();
        for (int i = 0; i < 400; i++) {
            int qemu = ownPidNs ? onlyChild(pid) : pid;
            if (qemu > 0 && pitOf(qemu) > 0 && PodQemu.tids(qemu).stream()
                    .filter(t -> PodQemu.comm(qemu, t).matches("CPU \\d+/KVM")).count() == vcpus) {
                return new KvmQemu(qemu, pitOf(qemu), nspid(qemu));
            }
            assertThat(p.isAlive()).as("QEMU under KVM exited").isTrue();
            PodQemu.sleep(25);
        }
        throw new AssertionError("QEMU under KVM did not come up with a kvm-pit thread");
    }

    private record KvmQemu(int pid, int pitTid, int nspid) {}

    private static int onlyChild(int pid) throws Exception {
        String children = Files.readString(PROC.resolve(pid + "/task/" + pid + "/children")).strip();
        return children.isEmpty() ? -1 : Integer.parseInt(children.split(" ")[0]);
    }

    private static int nspid(int pid) throws Exception {
        String line = Files.readAllLines(PROC.resolve(pid + "/status")).stream().filter(l -> l.startsWith("NSpid:"))
                .findFirst().orElseThrow();
        String[] f = line.substring(6).strip().split("\\s+");
        return Integer.parseInt(f[f.length - 1]);
    }

    /** The kvm-pit thread a test can attribute by itself: the newest one of that name born after QEMU. */
    private static int pitOf(int qemu) throws Exception {
        String name = "kvm-pit/" + nspid(qemu);
        long qemuStart = io.vmhandler.proc.ProcessInfo.read(PROC, qemu).startTime();
        int best = -1;
        long bestStart = -1;
        try (var all = Files.list(PROC)) {
            for (Path d : all.filter(d -> d.getFileName().toString().matches("\\d+")).toList()) {
                try {
                    String stat = Files.readString(d.resolve("stat"));
                    long start = io.vmhandler.proc.ProcessInfo.startTime(stat);
                    if (io.vmhandler.proc.ProcessInfo.comm(stat).equals(name) && start >= qemuStart && start > bestStart) {
                        best = Integer.parseInt(d.getFileName().toString());
                        bestStart = start;
                    }
                } catch (java.io.IOException gone) {
                    // exited while listed
                }
            }
        }
        return best;
    }

    @Test
    void dedicatedPlacementGivesTheKvmPitThreadVcpu0sCpuAndRealtimeFifo2() throws Exception {
        KvmQemu q = start("0-1", 2, false);
        BitSet before = PodQemu.taskset(q.pitTid());
        assertThat(PodQemu.cpus(before)).as("kvm-pit starts unpinned").isNotEqualTo("0");

        PinResult r = pinner().pin(q.pid(), "ns/pit", dedicated(2, false), null, null);
        assertThat(r.complete()).as("%s", r.skipped()).isTrue();
        assertThat(r.kvmPit()).as("%s", r.skipped()).isPresent();
        assertThat(r.kvmPit().get().tid()).isEqualTo(q.pitTid());
        assertThat(PodQemu.cpus(r.vcpus().get(0).cpus())).isEqualTo("0");
        assertThat(PodQemu.cpus(PodQemu.taskset(q.pitTid()))).as("taskset -p of kvm-pit").isEqualTo("0");
        assertThat(PodQemu.chrt(q.pitTid())).isEqualTo("SCHED_OTHER 0");

        PinResult rt = pinner().pin(q.pid(), "ns/pit", dedicated(2, true), null, null);
        assertThat(rt.kvmPit().orElseThrow().realtime()).isTrue();
        assertThat(rt.kvmPit().get().changed()).as("affinity already right").isFalse();
        assertThat(PodQemu.chrt(q.pitTid())).isEqualTo("SCHED_FIFO 2");
        assertThat(PodQemu.chrt(q.pitTid())).isNotEqualTo(PodQemu.chrt(r.vcpus().get(0).tid()));
    }

    @Test
    void sharedPlacementLeavesTheKvmPitThreadAlone() throws Exception {
        KvmQemu q = start("0-1", 1, false);
        String before = PodQemu.cpus(PodQemu.taskset(q.pitTid()));
        PinResult r = pinner().pin(q.pid(), "ns/shared",
                new CpuPlacement(1, 1, 1, 1, false, false, false, new BitSet(), false), null, null);
        assertThat(r.kvmPit()).isEmpty();
        assertThat(PodQemu.cpus(PodQemu.taskset(q.pitTid()))).isEqualTo(before);
    }

    @Test
    void twoQemusThatArePid1InTheirPodsEachGetTheirOwnKvmPitThread() throws Exception {
        // both threads are named kvm-pit/1: a name lookup (KubeVirt's) cannot tell them apart
        KvmQemu a = start("0", 1, true);
        KvmQemu b = start("1", 1, true);
        assertThat(a.nspid()).isEqualTo(1);
        assertThat(b.nspid()).isEqualTo(1);
        assertThat(a.pitTid()).isNotEqualTo(b.pitTid());
        assertThat(PodQemu.comm(a.pitTid(), a.pitTid())).isEqualTo("kvm-pit/1");
        assertThat(PodQemu.comm(b.pitTid(), b.pitTid())).isEqualTo("kvm-pit/1");

        PinResult rb = pinner().pin(b.pid(), "ns/b", dedicated(1, false), null, null);
        PinResult ra = pinner().pin(a.pid(), "ns/a", dedicated(1, false), null, null);

        assertThat(rb.kvmPit().orElseThrow().tid()).isEqualTo(b.pitTid());
        assertThat(ra.kvmPit().orElseThrow().tid()).isEqualTo(a.pitTid());
        assertThat(PodQemu.cpus(PodQemu.taskset(a.pitTid()))).isEqualTo("0");
        assertThat(PodQemu.cpus(PodQemu.taskset(b.pitTid()))).isEqualTo("1");
        assertThat(CpuSet.formatList(ra.kvmPit().get().cpus())).isEqualTo("0");
    }
}
