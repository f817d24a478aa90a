package io.vmhandler.cgroups;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vmhandler.cgroups.v2.V2CgroupManager;
import io.vmhandler.nativeio.CpuSet;
import io.vmhandler.nativeio.SyscallException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import jnr.constants.platform.Errno;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Test double, by necessity: the cgroup2 hierarchy on this machine kind has no cpuset controller,
 * so v2 cpuset handling runs on a temp directory tree that mirrors the files a pure-v2 node has
 * (cgroup.controllers, cpuset.cpus.effective, cgroup.type, cgroup.subtree_control, cgroup.threads)
 * and on a mirrored /proc/PID/cgroup. The kernel creates a new cgroup's files on mkdir; here the
 * housekeeping child is laid out in advance, so ensureHousekeeping adopts it. Threaded mode itself is
 * tested on the real unified hierarchy in V2ThreadedHousekeepingIT.
 */
class V2CpusetOnMirrorTreeTest {
    static final String UID = "9d1c2b3a-4e5f-4a6b-8c7d-0e1f2a3b4c5d";
    static final String ID = "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789";
    static final String POD = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + UID.replace('-', '_') + ".slice";
    static final String CONTAINER = POD + "/cri-containerd-" + ID + ".scope";
    static final int PID = 4242;

    @TempDir
    Path tmp;
    Path cg;
    Path proc;

    @BeforeEach
    void mirror() throws IOException {
        cg = tmp.resolve("cgroup");
        proc = tmp.resolve("proc");
        Files.createDirectories(cg);
        Files.writeString(cg.resolve("cgroup.controllers"), "cpuset cpu io memory pids\n");
        Path c = Files.createDirectories(cg.resolve(CONTAINER.substring(1)));
        Files.writeString(c.resolve("cgroup.controllers"), "cpuset cpu memory pids\n");
        Files.writeString(c.resolve("cpuset.cpus.effective"), "2-3,6\n");
        Files.writeString(c.resolve("cgroup.subtree_control"), "");
        Files.writeString(c.resolve("cgroup.threads"), PID + "\n" + (PID + 1) + "\n");
        Files.writeString(c.resolve("cgroup.type"), "domain\n");
        Path hk = Files.createDirectories(c.resolve("housekeeping"));
        Files.writeString(hk.resolve("cgroup.type"), "domain\n");
        Files.writeString(hk.resolve("cpuset.cpus"), "");
        Files.writeString(hk.resolve("cgroup.threads"), "");
        procCgroup("0::" + CONTAINER + "\n");
    }

    private void procCgroup(String text) throws IOException {
        Files.createDirectories(proc.resolve(Integer.toString(PID)));
        Files.writeString(proc.resolve(PID + "/cgroup"), text);
    }

    private CgroupManager manager() throws IOException {
        return CgroupManagers.detect(cg, proc);
    }

    @Test
    void pureV2RootIsDetectedAndResolvesThePod() throws IOException {
        CgroupManager m = manager();
        assertThat(m).isInstanceOf(V2CgroupManager.class);
        CgroupInfo info = m.resolve(PID);
        assertThat(info.version()).isEqualTo(CgroupVersion.V2);
        assertThat(info.containerPath()).isEqualTo(CONTAINER);
        assertThat(info.paths()).containsEntry("unified", CONTAINER);
        PodIdentity pod = info.pod().orElseThrow();
        assertThat(pod.podUid()).isEqualTo(UID);
        assertThat(pod.qosClass()).isEqualTo(QosClass.BURSTABLE);
        assertThat(pod.containerId()).isEqualTo(ID);
        assertThat(pod.runtime()).isEqualTo(ContainerRuntime.CONTAINERD);
        assertThat(CpuSet.formatList(m.cpuset(info))).isEqualTo("2-3,6");
        assertThat(m.threads(info, false)).containsExactly(PID, PID + 1);
    }

    @Test
    void housekeepingBecomesThreadedWithCpusetEnabledAndItsCpusWritten() throws IOException {
        CgroupManager m = manager();
        CgroupInfo info = m.resolve(PID);
        Housekeeping hk = m.ensureHousekeeping(info, CpuSet.parseList("6"));
        assertThat(hk.created()).isFalse();
        assertThat(hk.path()).isEqualTo(CONTAINER + "/housekeeping");
        assertThat(hk.cpus().map(CpuSet::formatList)).contains("6");
        assertThat(hk.note()).isEmpty();
        Path c = cg.resolve(CONTAINER.substring(1));
        assertThat(Files.readString(c.resolve("housekeeping/cgroup.type"))).isEqualTo("threaded");
        assertThat(Files.readString(c.resolve("cgroup.subtree_control"))).isEqualTo("+cpuset");
        assertThat(Files.readString(c.resolve("housekeeping/cpuset.cpus"))).isEqualTo("6");
        m.moveToHousekeeping(info, PID + 1);
        assertThat(Files.readString(c.resolve("housekeeping/cgroup.threads"))).isEqualTo(Integer.toString(PID + 1));
    }

    @Test
    void aHousekeepingSetOutsideTheContainerCpusetIsRejectedBeforeAnyWrite() throws IOException {
        CgroupManager m = manager();
        CgroupInfo info = m.resolve(PID);
        assertThatThrownBy(() -> m.ensureHousekeeping(info, CpuSet.parseList("6-7")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("7 are outside the cpuset of");
        Path c = cg.resolve(CONTAINER.substring(1));
        assertThat(Files.readString(c.resolve("housekeeping/cgroup.type"))).isEqualTo("domain\n");
        assertThat(Files.readString(c.resolve("cgroup.subtree_control"))).isEmpty();
    }

    @Test
    void withoutTheCpusetControllerCpusetFailsClearlyAndHousekeepingSaysWhy() throws IOException {
        Path c = cg.resolve(CONTAINER.substring(1));
        Files.writeString(c.resolve("cgroup.controllers"), "cpu memory pids\n");
        Files.delete(c.resolve("cpuset.cpus.effective"));
        CgroupManager m = manager();
        CgroupInfo info = m.resolve(PID);
        assertThatThrownBy(() -> m.cpuset(info)).isInstanceOf(IOException.class)
                .hasMessageContaining("cpuset.cpus.effective does not exist")
                .hasMessageContaining("cgroup.controllers: 'cpu memory pids'");
        Housekeeping hk = m.ensureHousekeeping(info, CpuSet.parseList("0"));
        assertThat(hk.cpus()).isEmpty();
        assertThat(hk.note().orElseThrow()).contains("no cpuset controller");
        assertThat(Files.readString(c.resolve("housekeeping/cgroup.type"))).isEqualTo("threaded");
        assertThat(Files.readString(c.resolve("cgroup.subtree_control"))).isEmpty();
    }

    @Test
    void aSymlinkPlantedInTheTreeIsNeverFollowed() throws IOException {
        Path elsewhere = Files.createDirectories(tmp.resolve("elsewhere/cri-containerd-" + ID + ".scope"));
        Files.writeString(elsewhere.resolve("cpuset.cpus.effective"), "0-63\n");
        Path pod = cg.resolve(POD.substring(1));
        Path moved = tmp.resolve("moved");
        Files.move(pod, moved);
        Files.createSymbolicLink(pod, tmp.resolve("elsewhere"));
        CgroupManager m = manager();
        CgroupInfo info = m.resolve(PID);
        assertThatThrownBy(() -> m.cpuset(info))
                .isInstanceOfSatisfying(SyscallException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ELOOP));
    }

    @Test
    void aPathThatClimbsOutOfTheRootIsRejectedAtResolve() throws IOException {
        procCgroup("0::/../../kubepods.slice/x\n");
        CgroupManager m = manager();
        assertThatThrownBy(() -> m.resolve(PID)).isInstanceOf(IOException.class)
                .hasMessageContaining("/proc/4242/cgroup unified").hasMessageContaining("leaves its root");
    }

    @Test
    void housekeepingSuffixInProcIsTheSameContainer() throws IOException {
        procCgroup("0::" + CONTAINER + "/housekeeping\n");
        CgroupInfo info = manager().resolve(PID);
        assertThat(info.containerPath()).isEqualTo(CONTAINER);
        assertThat(info.podUid()).contains(UID);
    }
}
