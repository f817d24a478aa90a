package io.vmhandler.cgroups;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Optional;
import org.junit.jupiter.api.Test;

class PodIdentityTest {
    static final String UID = "6b1f0a3e-2c4d-4e5f-8a9b-0c1d2e3f4a5b";
    static final String UID_ = UID.replace('-', '_');
    static final String ID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    private static PodIdentity parse(String path) {
        Optional<PodIdentity> p = PodIdentity.fromCgroupPath(path);
        assertThat(p).as(path).isPresent();
        return p.get();
    }

    @Test
    void cgroupfsBurstableContainerd() {
        PodIdentity p = parse("/kubepods/burstable/pod" + UID + "/" + ID);
        assertThat(p).isEqualTo(new PodIdentity(UID, QosClass.BURSTABLE, ID, ContainerRuntime.UNKNOWN,
                CgroupDriver.CGROUPFS, "/kubepods/burstable/pod" + UID));
    }

    @Test
    void cgroupfsGuaranteedAndBesteffortAndCrio() {
        assertThat(parse("/kubepods/pod" + UID + "/" + ID).qosClass()).isEqualTo(QosClass.GUARANTEED);
        assertThat(parse("/kubepods/besteffort/pod" + UID + "/" + ID).qosClass()).isEqualTo(QosClass.BESTEFFORT);
        PodIdentity crio = parse("/kubepods/besteffort/pod" + UID + "/crio-" + ID);
        assertThat(crio.runtime()).isEqualTo(ContainerRuntime.CRIO);
        assertThat(crio.containerId()).isEqualTo(ID);
    }

    @Test
    void cgroupfsUnderAKubeletCgroupRoot() {
        PodIdentity p = parse("/kubelet/kubepods/pod" + UID + "/" + ID);
        assertThat(p.podPath()).isEqualTo("/kubelet/kubepods/pod" + UID);
    }

    @Test
    void podLevelWithoutContainer() {
        PodIdentity p = parse("/kubepods/burstable/pod" + UID);
        assertThat(p.containerId()).isNull();
        assertThat(p.podUid()).isEqualTo(UID);
    }

    @Test
    void systemdBurstableContainerdGivesTheDashedUid() {
        String path = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + UID_
                + ".slice/cri-containerd-" + ID + ".scope";
        PodIdentity p = parse(path);
        assertThat(p).isEqualTo(new PodIdentity(UID, QosClass.BURSTABLE, ID, ContainerRuntime.CONTAINERD,
                CgroupDriver.SYSTEMD, "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + UID_ + ".slice"));
    }

    @Test
    void systemdGuaranteedCrioDockerAndConmon() {
        String pod = "/kubepods.slice/kubepods-pod" + UID_ + ".slice/";
        assertThat(parse(pod + "crio-" + ID + ".scope").runtime()).isEqualTo(ContainerRuntime.CRIO);
        assertThat(parse(pod + "docker-" + ID + ".scope").runtime()).isEqualTo(ContainerRuntime.DOCKER);
        assertThat(parse(pod + "docker-" + ID + ".scope").qosClass()).isEqualTo(QosClass.GUARANTEED);
        PodIdentity conmon = parse(pod + "crio-conmon-" + ID + ".scope");
        assertThat(conmon.containerId()).isNull();
        assertThat(conmon.runtime()).isEqualTo(ContainerRuntime.CRIO);
    }

    @Test
    void systemdUnderKubeletSliceAsKindRunsIt() {
        String path = "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod"
                + UID_ + ".slice/cri-containerd-" + ID + ".scope";
        PodIdentity p = parse(path);
        assertThat(p.qosClass()).isEqualTo(QosClass.BESTEFFORT);
        assertThat(p.podUid()).isEqualTo(UID);
        assertThat(p.containerId()).isEqualTo(ID);
    }

    @Test
    void crunContainerLeafAndHousekeepingAreIgnored() {
        String scope = "/kubepods.slice/kubepods-pod" + UID_ + ".slice/crio-" + ID + ".scope";
        assertThat(parse(scope + "/container").containerId()).isEqualTo(ID);
        assertThat(parse(scope + "/housekeeping").containerId()).isEqualTo(ID);
        assertThat(parse("/kubepods/pod" + UID + "/" + ID + "/housekeeping").containerId()).isEqualTo(ID);
    }

    @Test
    void staticPodHashUidIsAccepted() {
        String hash = "0123456789abcdef0123456789abcdef";
        assertThat(parse("/kubepods/burstable/pod" + hash + "/" + ID).podUid()).isEqualTo(hash);
    }

    @Test
    void theOutermostKubepodsWinsOverAForgedNestedOne() {
        String other = "11111111-2222-3333-4444-555555555555";
        String path = "/kubepods/burstable/pod" + UID + "/" + ID + "/kubepods/pod" + other + "/" + ID;
        assertThat(parse(path).podUid()).isEqualTo(UID);
        String sd = "/kubepods.slice/kubepods-pod" + UID_ + ".slice/cri-containerd-" + ID
                + ".scope/kubepods.slice/kubepods-pod" + other.replace('-', '_') + ".slice";
        assertThat(parse(sd).podUid()).isEqualTo(UID);
    }

    @Test
    void nonPodAndMalformedPathsAreNotPods() {
        assertThat(PodIdentity.fromCgroupPath("/")).isEmpty();
        assertThat(PodIdentity.fromCgroupPath("/system.slice/containerd.service")).isEmpty();
        assertThat(PodIdentity.fromCgroupPath("/kubepods/burstable")).isEmpty();
        assertThat(PodIdentity.fromCgroupPath("/kubepods/burstable/podNOTAUID/" + ID)).isEmpty();
        assertThat(PodIdentity.fromCgroupPath("/kubepods/burstable/pod" + UID.toUpperCase() + "/" + ID)).isEmpty();
        // systemd form must use underscores; a dashed UID in a slice name is not kubelet's
        assertThat(PodIdentity.fromCgroupPath("/kubepods.slice/kubepods-pod" + UID + ".slice")).isEmpty();
        // a slice whose stem does not continue its parent's is not kubelet's either
        assertThat(PodIdentity.fromCgroupPath("/kubepods.slice/other-pod" + UID_ + ".slice")).isEmpty();
        assertThat(PodIdentity.fromCgroupPath("relative/kubepods/pod" + UID)).isEmpty();
    }

    @Test
    void unknownContainerComponentGivesNoContainerId() {
        PodIdentity p = parse("/kubepods/pod" + UID + "/notahexid");
        assertThat(p.containerId()).isNull();
        assertThat(parse("/kubepods.slice/kubepods-pod" + UID_ + ".slice/weird.scope").containerId()).isNull();
    }
}
