package io.vmhandler.cgroups;

import static io.vmhandler.cgroups.PodIdentityTest.ID;
import static io.vmhandler.cgroups.PodIdentityTest.UID;
import static io.vmhandler.cgroups.PodIdentityTest.UID_;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import org.junit.jupiter.api.Test;

/**
 * Paths that stop early or only look like kubelet's (kubernetes pkg/kubelet/cm/cgroup_manager_linux.go names the
 * systemd pod slice {@code <parent stem>-pod<uid with '_' for '-'>.slice}), and the rule that every hierarchy of
 * a process must name the same pod.
 */
class PodIdentityEdgesTest {
    @Test
    void aPathThatStopsAtTheKubepodsOrQosLevelIsInNoPod() {
        for (String p : new String[] {"/kubepods", "/kubepods/burstable", "/kubepods.slice",
                "/kubepods.slice/kubepods-burstable.slice"}) {
            assertThat(PodIdentity.fromCgroupPath(p)).as(p).isEmpty();
        }
    }

    @Test
    void aPathThatStopsAtThePodIsThePodWithoutAContainer() {
        PodIdentity p = PodIdentity.fromCgroupPath("/kubepods.slice/kubepods-pod" + UID_ + ".slice").orElseThrow();
        assertThat(p.podUid()).isEqualTo(UID);
        assertThat(p.containerId()).isNull();
        assertThat(p.runtime()).isEqualTo(ContainerRuntime.UNKNOWN);
        assertThat(PodIdentity.fromCgroupPath("/kubepods/pod" + UID).orElseThrow().containerId()).isNull();
    }

    @Test
    void aSystemdPodUnitMustBeASliceNamedWithUnderscores() {
        // not a slice, although it is as long as one
        assertThat(PodIdentity.fromCgroupPath("/kubepods.slice/kubepods-pod" + UID_ + "xslice/cri-containerd-" + ID + ".scope"))
                .isEmpty();
        // dashes in the UID cannot come from systemd: kubelet escapes them
        assertThat(PodIdentity.fromCgroupPath("/kubepods.slice/kubepods-pod" + UID + ".slice/cri-containerd-" + ID + ".scope"))
                .isEmpty();
    }

    @Test
    void everyHierarchyThatNamesAPodMustNameTheSameOne() throws IOException {
        String other = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
        ProcCgroup mixed = ProcCgroup.parse(42, "5:cpuset:/kubepods/pod" + UID + "/" + ID + "\n"
                + "4:memory:/kubepods/pod" + other + "/" + ID + "\n");
        assertThatThrownBy(() -> CgroupResolver.build(mixed, CgroupVersion.V1, mixed.controller("cpuset").orElseThrow()))
                .isInstanceOf(IOException.class)
                .hasMessage("pid 42 is in pod " + UID + " for cpuset but in pod " + other + " for memory;"
                        + " refusing an inconsistent identity");
        ProcCgroup same = ProcCgroup.parse(42, "5:cpuset:/kubepods/pod" + UID + "/" + ID + "\n"
                + "4:memory:/kubepods/pod" + UID + "/" + ID + "\n1:name=systemd:/system.slice/containerd.service\n");
        assertThat(CgroupResolver.build(same, CgroupVersion.V1, same.controller("cpuset").orElseThrow()).podUid())
                .contains(UID);
        // a process in no pod in its managed hierarchy is in no pod, whatever another hierarchy says
        ProcCgroup outside = ProcCgroup.parse(42, "5:cpuset:/\n4:memory:/kubepods/pod" + other + "/" + ID + "\n");
        assertThat(CgroupResolver.build(outside, CgroupVersion.V1, outside.controller("cpuset").orElseThrow()).podUid())
                .isEmpty();
    }
}
