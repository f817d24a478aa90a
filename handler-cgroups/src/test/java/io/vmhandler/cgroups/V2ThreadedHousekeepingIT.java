package io.vmhandler.cgroups;

import static io.vmhandler.cgroups.testing.KubeletCgroups.ROOT;
import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.cgroups.testing.CgroupProcesses;
import io.vmhandler.cgroups.testing.KubeletCgroups;
import io.vmhandler.cgroups.v2.V2CgroupManager;
import io.vmhandler.nativeio.CpuSet;
import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.Root;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * v2 threaded mode on the real unified hierarchy (/sys/fs/cgroup/unified on this hybrid node): a
 * multi-threaded process (a paused QEMU) lives in a container cgroup named like kubelet's systemd
 * layout, and single threads move into the threaded housekeeping child. This hierarchy has no cpuset
 * controller, so the manager reports that instead of writing one (cpuset handling itself is
 * covered on a mirror tree in V2CpusetOnMirrorTreeTest).
 */
class V2ThreadedHousekeepingIT {
    static final String QEMU = "/usr/bin/qemu-system-x86_64";

    @RegisterExtension
    final HostCleanup host = new HostCleanup();

    @BeforeEach
    void root() {
        Root.require();
        Root.requireTool(QEMU);
    }

    @Test
    void nonMainThreadsMoveIntoAThreadedChildAndBack() throws IOException {
        String uid = KubeletCgroups.newPodUid();
        String id = KubeletCgroups.newContainerId();
        String path = KubeletCgroups.systemd("vmh" + HostCleanup.suffix(), QosClass.BURSTABLE, uid,
                "cri-containerd-" + id + ".scope");
        Path dir = KubeletCgroups.create(host, "unified", path, null);
        Process qemu = CgroupProcesses.start(host, List.of(dir), List.of(QEMU, "-name", "vmh-v2,debug-threads=on",
                "-accel", "tcg", "-S", "-nographic", "-nodefaults", "-no-user-config", "-display", "none",
                "-smp", "2", "-m", "64"));
        int pid = (int) qemu.pid();
        List<Integer> tids = CgroupProcesses.awaitThreads(pid, 3);

        V2CgroupManager m = new V2CgroupManager(ROOT, "unified", Path.of("/proc"));
        CgroupInfo info = m.resolve(pid);
        assertThat(info.version()).isEqualTo(CgroupVersion.V2);
        assertThat(info.containerPath()).isEqualTo(path);
        assertThat(info.pod().orElseThrow().podUid()).isEqualTo(uid);
        assertThat(info.pod().orElseThrow().containerId()).isEqualTo(id);
        assertThat(m.threads(info, false)).containsAll(tids);

        Housekeeping hk = m.ensureHousekeeping(info, CpuSet.parseList("0"));
        assertThat(hk.created()).isTrue();
        assertThat(hk.cpus()).isEmpty();
        assertThat(hk.note().orElseThrow()).contains("no cpuset controller");
        assertThat(KubeletCgroups.read(dir.resolve("housekeeping/cgroup.type"))).isEqualTo("threaded");
        assertThat(KubeletCgroups.read(dir.resolve("cgroup.type"))).isEqualTo("domain threaded");

        int worker = tids.stream().filter(t -> t != pid).findFirst().orElseThrow();
        m.moveToHousekeeping(info, worker);
        assertThat(CgroupProcesses.threadCgroup(pid, worker, "")).isEqualTo(path + "/housekeeping");
        assertThat(CgroupProcesses.threadCgroup(pid, pid, "")).isEqualTo(path);
        assertThat(m.threads(info, true)).containsExactly(worker);

        // the main thread too: /proc/PID/cgroup then names housekeeping, and resolve strips it
        m.moveToHousekeeping(info, pid);
        assertThat(Files.readString(Path.of("/proc/" + pid + "/cgroup"))).contains("0::" + path + "/housekeeping");
        CgroupInfo again = m.resolve(pid);
        assertThat(again.containerPath()).isEqualTo(path);
        assertThat(m.ensureHousekeeping(again, CpuSet.parseList("0")).created()).isFalse();

        assertThat(m.removeHousekeeping(again)).isTrue();
        assertThat(Files.exists(dir.resolve("housekeeping"))).isFalse();
        assertThat(CgroupProcesses.threadCgroup(pid, worker, "")).isEqualTo(path);
        assertThat(qemu.isAlive()).isTrue();
    }
}
