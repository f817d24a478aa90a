package io.vmhandler.cgroups;

import static io.vmhandler.cgroups.testing.KubeletCgroups.ROOT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vmhandler.cgroups.testing.CgroupProcesses;
import io.vmhandler.cgroups.testing.KubeletCgroups;
import io.vmhandler.cgroups.v1.V1CgroupManager;
import io.vmhandler.nativeio.CpuSet;
import io.vmhandler.nativeio.Syscalls;
import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.Root;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The v1 manager against the real cpuset controller: cgroups named like a kubelet pod's (both
 * drivers) are created, a process is put in them at birth, and the manager reads the kernel's own
 * /proc/PID/cgroup.
 */
class V1CgroupManagerIT {
    static final Path PROC = Path.of("/proc");

    @RegisterExtension
    final HostCleanup host = new HostCleanup();

    @BeforeEach
    void root() {
        Root.require();
    }

    private Process sleeper(String path, String cpus) throws IOException {
        Path cpuset = KubeletCgroups.create(host, "cpuset", path, cpus);
        Path systemd = KubeletCgroups.create(host, "systemd", path, null);
        return CgroupProcesses.start(host, List.of(cpuset, systemd), List.of("/bin/sleep", "600"));
    }

    @Test
    void thisNodeIsDetectedAsV1ForCpuset() throws IOException {
        assertThat(CgroupManagers.detect(ROOT, PROC)).isInstanceOf(V1CgroupManager.class);
    }

    @Test
    void cgroupfsDriverBurstablePodAtTheTopLevelResolvesFromRealProc() throws IOException {
        String uid = KubeletCgroups.newPodUid();
        String id = KubeletCgroups.newContainerId();
        String path = KubeletCgroups.cgroupfs("", QosClass.BURSTABLE, uid, id);
        Process p = sleeper(path, "1");
        CgroupInfo info = new V1CgroupManager(ROOT, PROC).resolve((int) p.pid());
        assertThat(info.version()).isEqualTo(CgroupVersion.V1);
        assertThat(info.containerPath()).isEqualTo(path);
        assertThat(info.paths()).containsEntry("cpuset", path).containsEntry("name=systemd", path);
        assertThat(info.pod().orElseThrow()).isEqualTo(new PodIdentity(uid, QosClass.BURSTABLE, id,
                ContainerRuntime.UNKNOWN, CgroupDriver.CGROUPFS, "/kubepods/burstable/pod" + uid));
        assertThat(CpuSet.formatList(new V1CgroupManager(ROOT, PROC).cpuset(info))).isEqualTo("1");
    }

    @Test
    void systemdDriverContainerdScopeResolvesFromRealProc() throws IOException {
        String uid = KubeletCgroups.newPodUid();
        String id = KubeletCgroups.newContainerId();
        String path = KubeletCgroups.systemd("vmh" + HostCleanup.suffix(), QosClass.BESTEFFORT, uid,
                "cri-containerd-" + id + ".scope");
        Process p = sleeper(path, "0-1");
        CgroupInfo info = new V1CgroupManager(ROOT, PROC).resolve((int) p.pid());
        PodIdentity pod = info.pod().orElseThrow();
        assertThat(pod.podUid()).isEqualTo(uid);
        assertThat(pod.qosClass()).isEqualTo(QosClass.BESTEFFORT);
        assertThat(pod.containerId()).isEqualTo(id);
        assertThat(pod.runtime()).isEqualTo(ContainerRuntime.CONTAINERD);
        assertThat(pod.driver()).isEqualTo(CgroupDriver.SYSTEMD);
    }

    @Test
    void aProcessOutsideAnyPodResolvesWithoutIdentity() throws IOException {
        Process p = CgroupProcesses.start(host, List.of(), List.of("/bin/sleep", "600"));
        CgroupInfo info = new V1CgroupManager(ROOT, PROC).resolve((int) p.pid());
        assertThat(info.pod()).isEmpty();
        assertThat(info.containerPath()).isEqualTo(KubeletCgroups.read(Path.of("/proc/self/cgroup")).lines()
                .filter(l -> l.split(":")[1].equals("cpuset")).findFirst().orElseThrow().split(":", 3)[2]);
    }

    @Test
    void housekeepingChildCopiesMemsTakesCpusAndAThreadThenGoesAway() throws IOException {
        String path = KubeletCgroups.cgroupfs("/vmh" + HostCleanup.suffix(), QosClass.GUARANTEED,
                KubeletCgroups.newPodUid(), KubeletCgroups.newContainerId());
        Process p = sleeper(path, "0-1");
        int pid = (int) p.pid();
        V1CgroupManager m = new V1CgroupManager(ROOT, PROC);
        CgroupInfo info = m.resolve(pid);
        BitSetAssert.equal(Syscalls.getAffinity(pid), "0-1");

        Housekeeping hk = m.ensureHousekeeping(info, CpuSet.parseList("1"));
        assertThat(hk.created()).isTrue();
        Path dir = ROOT.resolve("cpuset" + path + "/housekeeping");
        assertThat(KubeletCgroups.read(dir.resolve("cpuset.cpus"))).isEqualTo("1");
        assertThat(KubeletCgroups.read(dir.resolve("cpuset.mems"))).isEqualTo(KubeletCgroups.read(dir.resolveSibling("cpuset.mems")));

        m.moveToHousekeeping(info, pid);
        assertThat(CgroupProcesses.threadCgroup(pid, pid, "cpuset")).isEqualTo(path + "/housekeeping");
        assertThat(m.threads(info, true)).containsExactly(pid);
        assertThat(m.threads(info, false)).isEmpty();
        // joining a v1 cpuset resets the thread's affinity to that cpuset
        BitSetAssert.equal(Syscalls.getAffinity(pid), "1");
        // /proc/PID/cgroup now ends in housekeeping; the container and pod stay the same
        CgroupInfo again = m.resolve(pid);
        assertThat(again.containerPath()).isEqualTo(path);
        assertThat(again.pod()).isEqualTo(info.pod());

        assertThat(m.ensureHousekeeping(again, CpuSet.parseList("1")).created()).isFalse();
        assertThat(m.removeHousekeeping(again)).isTrue();
        assertThat(Files.exists(dir)).isFalse();
        assertThat(CgroupProcesses.threadCgroup(pid, pid, "cpuset")).isEqualTo(path);
        assertThat(m.removeHousekeeping(again)).isFalse();
    }

    @Test
    void aHousekeepingSetOutsideTheContainerCpusetIsRefusedAndNothingIsCreated() throws IOException {
        String path = KubeletCgroups.cgroupfs("/vmh" + HostCleanup.suffix(), QosClass.BURSTABLE,
                KubeletCgroups.newPodUid(), KubeletCgroups.newContainerId());
        Process p = sleeper(path, "1");
        V1CgroupManager m = new V1CgroupManager(ROOT, PROC);
        CgroupInfo info = m.resolve((int) p.pid());
        assertThatThrownBy(() -> m.ensureHousekeeping(info, CpuSet.parseList("0")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("0 are outside the cpuset");
        assertThat(Files.exists(ROOT.resolve("cpuset" + path + "/housekeeping"))).isFalse();
    }

    @Test
    void aRootReachedThroughTheProcRootMagicLinkGivesTheSameAnswer() throws IOException {
        String path = KubeletCgroups.cgroupfs("/vmh" + HostCleanup.suffix(), QosClass.BURSTABLE,
                KubeletCgroups.newPodUid(), KubeletCgroups.newContainerId());
        Process p = sleeper(path, "0");
        // what a pod sees as /proc/1/root/sys/fs/cgroup; /proc/1/root itself is closed to us here
        Path viaProc = Path.of("/proc/self/root/sys/fs/cgroup");
        CgroupManager m = CgroupManagers.detect(viaProc, PROC);
        CgroupInfo info = m.resolve((int) p.pid());
        assertThat(info).isEqualTo(new V1CgroupManager(ROOT, PROC).resolve((int) p.pid()));
        assertThat(CpuSet.formatList(m.cpuset(info))).isEqualTo("0");
        assertThat(m.tree().describe(info.containerPath())).startsWith("/proc/self/root/sys/fs/cgroup/cpuset/vmh");
    }

    @Test
    void aPidThatDoesNotExistIsAClearError() {
        assertThatThrownBy(() -> new V1CgroupManager(ROOT, PROC).resolve(Integer.MAX_VALUE))
                .isInstanceOf(NoSuchFileException.class).hasMessage("no process with pid " + Integer.MAX_VALUE);
    }
}
