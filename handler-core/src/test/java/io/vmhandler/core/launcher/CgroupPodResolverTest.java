package io.vmhandler.core.launcher;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vmhandler.cgroups.CgroupManagers;
import io.vmhandler.proc.ProcessGoneException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link CgroupPodResolver} over a real v2 {@link io.vmhandler.cgroups.CgroupManager} on a mirrored cgroup root
 * and /proc (kubelet's systemd layout, as V2CpusetOnMirrorTreeTest lays it out in handler-cgroups).
 */
class CgroupPodResolverTest {
    private static final String UID = "9d1c2b3a-4e5f-4a6b-8c7d-0e1f2a3b4c5d";
    private static final String SCOPE = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
            + UID.replace('-', '_') + ".slice/cri-containerd-" + "ab".repeat(32) + ".scope";

    @TempDir
    Path tmp;

    private CgroupPodResolver resolver(int pid, String cgroupFile) throws IOException {
        Path cg = Files.createDirectories(tmp.resolve("cgroup"));
        Files.writeString(cg.resolve("cgroup.controllers"), "cpuset cpu memory pids\n");
        Path proc = Files.createDirectories(tmp.resolve("proc"));
        if (cgroupFile != null) {
            Files.createDirectories(proc.resolve(Integer.toString(pid)));
            Files.writeString(proc.resolve(pid + "/cgroup"), cgroupFile);
        }
        return new CgroupPodResolver(CgroupManagers.detect(cg, proc));
    }

    @Test
    void aContainerProcessIsInItsPod() throws IOException {
        assertThat(resolver(42, "0::" + SCOPE + "\n").podUid(42)).contains(UID);
    }

    @Test
    void aProcessOutsideKubepodsIsInNoPod() throws IOException {
        assertThat(resolver(42, "0::/system.slice/sshd.service\n").podUid(42)).isEmpty();
    }

    @Test
    void aProcessWithoutACgroupFileIsGone() throws IOException {
        CgroupPodResolver r = resolver(42, null);
        assertThatThrownBy(() -> r.podUid(42)).isInstanceOf(ProcessGoneException.class)
                .hasMessage("no process with pid 42");
    }
}
