package io.vmhandler.core.pinning;

import io.vmhandler.core.plan.CpuPlacement;

import static io.vmhandler.core.pinning.PodQemu.cpus;
import static io.vmhandler.core.pinning.PodQemu.taskset;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vmhandler.cgroups.CgroupInfo;
import io.vmhandler.cgroups.QosClass;
import io.vmhandler.cgroups.testing.CgroupProcesses;
import io.vmhandler.cgroups.testing.KubeletCgroups;
import io.vmhandler.cgroups.v1.V1CgroupManager;
import io.vmhandler.cgroups.v2.V2CgroupManager;
import io.vmhandler.nativeio.CpuSet;
import io.vmhandler.nativeio.Syscalls;
import io.vmhandler.testing.HostCleanup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The pinner on a real QEMU (uid 107, no capabilities) inside kubelet-named cgroups with a real
 * v1 cpuset. Every thread is checked twice: sched_getaffinity, and independently with taskset -p;
 * cgroup membership is read back from /proc/PID/task/TID/cgroup.
 */
class VcpuPinnerIT {
    static final Path ROOT = KubeletCgroups.ROOT;
    static final Path PROC = Path.of("/proc");

    @RegisterExtension
    final HostCleanup host = new HostCleanup();

    @BeforeEach
    void root() {
        PodQemu.requirePinningTools();
    }

    private static VcpuPinner pinner() {
        return new VcpuPinner(new V1CgroupManager(ROOT, PROC), PROC);
    }

    private static CpuPlacement dedicated(int vcpus, boolean isolate) {
        return new CpuPlacement(1, vcpus, 1, vcpus, true, isolate, false, new BitSet(), false);
    }

    /** Asserts every thread's affinity (both ways) and cpuset cgroup; returns tid → cpulist. */
    private static Map<Integer, String> assertThreads(PodQemu q, Map<Integer, String> vcpuCpus, String hkCpus,
            String hkCgroup) throws Exception {
        TreeMap<Integer, Integer> vcpus = q.vcpuTids();
        Map<Integer, String> seen = new HashMap<>();
        for (int tid : PodQemu.tids(q.pid)) {
            BitSet viaSyscall = Syscalls.getAffinity(tid);
            assertThat(cpus(taskset(tid))).as("taskset -p %d", tid).isEqualTo(cpus(viaSyscall));
            Integer vcpu = vcpus.entrySet().stream().filter(e -> e.getValue() == tid).map(Map.Entry::getKey).findFirst().orElse(null);
            String cg = CgroupProcesses.threadCgroup(q.pid, tid, "cpuset");
            if (vcpu != null && vcpuCpus.containsKey(vcpu)) {
                assertThat(cpus(viaSyscall)).as("vCPU %d tid %d", vcpu, tid).isEqualTo(vcpuCpus.get(vcpu));
                assertThat(cg).as("vCPU %d cgroup", vcpu).isEqualTo(q.path);
            } else if (vcpu == null) {
                assertThat(cpus(viaSyscall)).as("emulator tid %d (%s)", tid, PodQemu.comm(q.pid, tid)).isEqualTo(hkCpus);
                assertThat(cg).as("emulator tid %d cgroup", tid).isEqualTo(hkCgroup);
            }
            seen.put(tid, cpus(viaSyscall));
        }
        return seen;
    }

    @Test
    void dedicatedVcpuWithIsolatedEmulatorInACgroupfsPod() throws Exception {
        String uid = KubeletCgroups.newPodUid();
        String path = KubeletCgroups.cgroupfs("/vmh" + HostCleanup.suffix(), QosClass.BURSTABLE, uid, KubeletCgroups.newContainerId());
        PodQemu q = PodQemu.start(host, path, "0-1", 1, false);
        assertThat(Files.readString(Path.of("/proc/" + q.pid + "/status"))).containsPattern("Uid:\\s+107\\s+107\\s+107\\s+107");
        assertThat(Files.readString(Path.of("/proc/" + q.pid + "/status"))).contains("CapEff:\t0000000000000000");

        PinResult r = pinner().pin(q.pid, "ns/vm", dedicated(1, true), null, null);

        assertThat(r.complete()).as("%s", r.skipped()).isTrue();
        assertThat(r.cpusSource()).isEqualTo("cgroup");
        assertThat(cpus(r.cpus())).isEqualTo("0-1");
        assertThat(r.vcpus()).hasSize(1);
        assertThat(r.vcpus().get(0).tid()).isEqualTo(q.vcpuTids().get(0));
        assertThat(cpus(r.vcpus().get(0).cpus())).isEqualTo("0");
        assertThat(cpus(r.housekeepingCpus())).isEqualTo("1");
        assertThat(r.housekeepingCgroup().orElseThrow().path()).isEqualTo(path + "/housekeeping");
        assertThat(r.housekeepingTids()).contains(q.pid).hasSize(PodQemu.tids(q.pid).size() - 1);
        assertThat(KubeletCgroups.read(q.cpusetDir.resolve("housekeeping/cpuset.cpus"))).isEqualTo("1");
        assertThreads(q, Map.of(0, "0"), "1", path + "/housekeeping");

        // again: same map, nothing to change, the cgroup adopted; /proc/PID/cgroup now names housekeeping
        assertThat(Files.readString(Path.of("/proc/" + q.pid + "/cgroup"))).contains(path + "/housekeeping");
        PinResult again = pinner().pin(q.pid, "ns/vm", dedicated(1, true), null, null);
        assertThat(again.changed()).isZero();
        assertThat(again.unchanged()).isEqualTo(PodQemu.tids(q.pid).size());
        assertThat(again.housekeepingCgroup().orElseThrow().created()).isFalse();
        assertThat(again.vcpus()).extracting(PinResult.VcpuPin::changed).containsOnly(false);
        assertThreads(q, Map.of(0, "0"), "1", path + "/housekeeping");
    }

    @Test
    void twoDedicatedVcpusWithRealtimeOnOneInASystemdPod() throws Exception {
        String uid = KubeletCgroups.newPodUid();
        String id = KubeletCgroups.newContainerId();
        String path = KubeletCgroups.systemd("vmh" + HostCleanup.suffix(), QosClass.GUARANTEED, uid, "cri-containerd-" + id + ".scope");
        PodQemu q = PodQemu.start(host, path, "0-1", 2, false);
        BitSet rtMask = CpuSet.parseList("1");
        CpuPlacement p = new CpuPlacement(1, 2, 1, 2, true, false, true, rtMask, false);

        CgroupInfo info = new V1CgroupManager(ROOT, PROC).resolve(q.pid);
        assertThat(info.podUid()).contains(uid);
        assertThat(info.pod().orElseThrow().containerId()).isEqualTo(id);

        PinResult r = pinner().pin(q.pid, "ns/rt", p, null, null);
        assertThat(r.complete()).as("%s", r.skipped()).isTrue();
        assertThreads(q, Map.of(0, "0", 1, "1"), "0-1", path + "/housekeeping");
        TreeMap<Integer, Integer> v = q.vcpuTids();
        assertThat(PodQemu.chrt(v.get(1))).isEqualTo("SCHED_FIFO 1");
        assertThat(PodQemu.chrt(v.get(0))).isEqualTo("SCHED_OTHER 0");
        assertThat(r.vcpus()).extracting(PinResult.VcpuPin::realtime).containsExactly(false, true);
        assertThat(pinner().pin(q.pid, "ns/rt", p, null, null).changed()).isZero();
    }

    @Test
    void aCpusetSmallerThanTheVcpusPinsWhatFitsAndNothingLeavesTheCpuset() throws Exception {
        String path = KubeletCgroups.cgroupfs("/vmh" + HostCleanup.suffix(), QosClass.GUARANTEED,
                KubeletCgroups.newPodUid(), KubeletCgroups.newContainerId());
        PodQemu q = PodQemu.start(host, path, "1", 2, false);
        PinResult r = pinner().pin(q.pid, "ns/small", dedicated(2, false), null, null);
        assertThat(r.complete()).isFalse();
        assertThat(r.vcpus()).extracting(PinResult.VcpuPin::vcpu).containsExactly(0);
        assertThat(r.skipped()).anySatisfy(s -> {
            assertThat(s.reason()).isEqualTo(Skip.Reason.NOT_ENOUGH_CPUS);
            assertThat(s.subject()).isEqualTo("vcpu 1");
            assertThat(s.tid()).isEqualTo(q.vcpuTids().get(1));
        });
        for (int tid : PodQemu.tids(q.pid)) {
            assertThat(cpus(Syscalls.getAffinity(tid))).isEqualTo("1");
            assertThat(cpus(taskset(tid))).isEqualTo("1");
        }
        // an explicit list outside the cpuset is refused before anything is done
        assertThatThrownBy(() -> pinner().pin(q.pid, "ns/small", dedicated(2, false), CpuSet.parseList("0-1"), null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("must be a non-empty subset of the cpuset");
    }

    @Test
    void aTidThatIsNotAThreadOfThePidIsRejectedAndNothingChanges() throws Exception {
        String path = KubeletCgroups.cgroupfs("/vmh" + HostCleanup.suffix(), QosClass.BURSTABLE,
                KubeletCgroups.newPodUid(), KubeletCgroups.newContainerId());
        PodQemu q = PodQemu.start(host, path, "0-1", 1, false);
        Map<Integer, String> before = new HashMap<>();
        for (int tid : PodQemu.tids(q.pid)) {
            before.put(tid, cpus(Syscalls.getAffinity(tid)));
        }
        int foreign = Syscalls.gettid();
        assertThatThrownBy(() -> pinner().pin(q.pid, "ns/x", dedicated(1, true), null, List.of(foreign)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("vCPU tid list: tid " + foreign + " is not a thread of pid " + q.pid);
        for (int tid : PodQemu.tids(q.pid)) {
            assertThat(cpus(Syscalls.getAffinity(tid))).isEqualTo(before.get(tid));
        }
        assertThat(Files.exists(q.cpusetDir.resolve("housekeeping"))).isFalse();

        // the right tid list (what QMP query-cpus-fast would return) is accepted
        PinResult r = pinner().pin(q.pid, "ns/x", dedicated(1, true), null, List.of(q.vcpuTids().get(0)));
        assertThat(r.complete()).isTrue();
        assertThat(cpus(Syscalls.getAffinity(q.vcpuTids().get(0)))).isEqualTo("0");
    }

    @Test
    void aPidThatVanishesBetweenDiscoveryAndPinningIsReportedNotPinned() throws Exception {
        String path = KubeletCgroups.cgroupfs("/vmh" + HostCleanup.suffix(), QosClass.BURSTABLE,
                KubeletCgroups.newPodUid(), KubeletCgroups.newContainerId());
        PodQemu q = PodQemu.start(host, path, "0-1", 2, false);
        V1CgroupManager cg = new V1CgroupManager(ROOT, PROC);
        VcpuPinner pinner = new VcpuPinner(cg, PROC);
        CgroupInfo info = cg.resolve(q.pid);
        QemuThreads.Snapshot snap = pinner.threads().scan(q.pid);
        PinPlan plan = PinPlan.of(dedicated(2, false), cg.cpuset(info), snap);

        q.qemu.close();
        PinResult r = pinner.apply("ns/gone", dedicated(2, false), plan, snap, info, "cgroup");

        assertThat(r.pidGone()).isTrue();
        assertThat(r.complete()).isFalse();
        assertThat(r.vcpus()).isEmpty();
        assertThat(r.housekeepingTids()).isEmpty();
        assertThat(r.skipped()).filteredOn(Skip::vcpu).extracting(Skip::reason).containsOnly(Skip.Reason.THREAD_GONE).hasSize(2);
        // and once it is gone, a fresh pin says so
        assertThatThrownBy(() -> pinner.pin(q.pid, "ns/gone", dedicated(2, false), null, null))
                .hasMessageContaining("no process with pid " + q.pid);
    }

    @Test
    void aThreadThatExitsBetweenDiscoveryAndPinningIsSkippedTheOthersArePinned() throws Exception {
        // test double for QEMU: QEMU's vCPU threads cannot be made to exit on demand, so a small Java
        // process names two threads "CPU n/TCG" and ends one when told to
        String path = KubeletCgroups.cgroupfs("/vmh" + HostCleanup.suffix(), QosClass.BURSTABLE,
                KubeletCgroups.newPodUid(), KubeletCgroups.newContainerId());
        Path dir = KubeletCgroups.create(host, "cpuset", path, "0-1");
        StandInVcpus standIn = StandInVcpus.start(host, List.of(dir), 2);
        VcpuPinner pinner = pinner();
        V1CgroupManager cg = new V1CgroupManager(ROOT, PROC);
        CgroupInfo info = cg.resolve(standIn.pid());
        QemuThreads.Snapshot snap = pinner.threads().scan(standIn.pid());
        assertThat(snap.vcpus()).hasSize(2);
        PinPlan plan = PinPlan.of(dedicated(2, false), cg.cpuset(info), snap);

        int exiting = snap.vcpu(1).orElseThrow().task().tid();
        standIn.endThread(1, exiting);
        PinResult r = pinner.apply("ns/standin", dedicated(2, false), plan, snap, info, "cgroup");

        assertThat(r.pidGone()).isFalse();
        assertThat(r.vcpus()).extracting(PinResult.VcpuPin::vcpu).containsExactly(0);
        assertThat(cpus(Syscalls.getAffinity(snap.vcpu(0).orElseThrow().task().tid()))).isEqualTo("0");
        assertThat(r.skipped()).anySatisfy(s -> {
            assertThat(s.reason()).isEqualTo(Skip.Reason.THREAD_GONE);
            assertThat(s.tid()).isEqualTo(exiting);
            assertThat(s.vcpu()).isTrue();
        });
    }

    @Test
    void v2ThreadedHousekeepingOnTheRealUnifiedHierarchy() throws Exception {
        String path = KubeletCgroups.systemd("vmh" + HostCleanup.suffix(), QosClass.BURSTABLE,
                KubeletCgroups.newPodUid(), "cri-containerd-" + KubeletCgroups.newContainerId() + ".scope");
        PodQemu q = PodQemu.start(host, path, "0-1", 1, true);
        VcpuPinner pinner = new VcpuPinner(new V2CgroupManager(ROOT, "unified", PROC), PROC);
        // no cpuset controller in this v2 hierarchy: without --cpus the pinner says so
        assertThatThrownBy(() -> pinner.pin(q.pid, "ns/v2", dedicated(1, true), null, null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("has no cpuset to pin to; pass --cpus");

        PinResult r = pinner.pin(q.pid, "ns/v2", dedicated(1, true), CpuSet.parseList("0-1"), null);
        assertThat(r.complete()).as("%s", r.skipped()).isTrue();
        assertThat(r.housekeepingCgroup().orElseThrow().note()).isPresent();
        Path unified = ROOT.resolve("unified" + path);
        assertThat(KubeletCgroups.read(unified.resolve("housekeeping/cgroup.type"))).isEqualTo("threaded");
        int vcpu = q.vcpuTids().get(0);
        for (int tid : PodQemu.tids(q.pid)) {
            String v2 = CgroupProcesses.threadCgroup(q.pid, tid, "");
            if (tid == vcpu) {
                assertThat(v2).isEqualTo(path);
                assertThat(cpus(taskset(tid))).isEqualTo("0");
            } else {
                assertThat(v2).isEqualTo(path + "/housekeeping");
                assertThat(cpus(taskset(tid))).isEqualTo("1");
            }
        }
        assertThat(pinner.pin(q.pid, "ns/v2", dedicated(1, true), CpuSet.parseList("0-1"), null).changed()).isZero();
    }
}
