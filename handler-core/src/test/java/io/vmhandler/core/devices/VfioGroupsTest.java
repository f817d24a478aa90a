package io.vmhandler.core.devices;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vmhandler.core.devices.PodResourcesLister.AllocatedPod;
import io.vmhandler.core.devices.PodResourcesLister.Device;
import io.vmhandler.core.model.VmiDocument;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VfioGroupsTest {
    @TempDir
    Path sys;

    private static final VmiDocument VMI = VmiDocument.parse("""
            apiVersion: kubevirt.io/v1
            kind: VirtualMachineInstance
            metadata: {name: foo, namespace: ns1, uid: u1}
            spec: {domain: {devices: {}}}
            """);

    private void device(String addr, int group) throws Exception {
        Path d = Files.createDirectories(sys.resolve("bus/pci/devices/" + addr));
        Files.createSymbolicLink(d.resolve("iommu_group"), Path.of("../../../../kernel/iommu_groups/" + group));
    }

    @Test
    void onlyTheVmisLauncherPodCountsAndNonPciIdsAreSkipped() throws Exception {
        device("0000:81:00.1", 7);
        device("0000:81:00.2", 7);
        device("0000:82:00.1", 9);
        PodResourcesLister kubelet = () -> List.of(
                new AllocatedPod("ns1", "virt-launcher-foo-abcde", List.of(new Device("sriov", "0000:81:00.1"),
                        new Device("sriov", "0000:81:00.2"), new Device("kvm", "kvm0"), new Device("gpu", "0000:99:00.0"))),
                // another VMI whose name starts with the same word, another namespace, another pod
                new AllocatedPod("ns1", "virt-launcher-foo-bar-abcde", List.of(new Device("sriov", "0000:82:00.1"))),
                new AllocatedPod("ns2", "virt-launcher-foo-abcde", List.of(new Device("sriov", "0000:82:00.1"))));
        VfioGroups.Allocation a = new VfioGroups(kubelet, sys).of(VMI);
        assertThat(a.groups()).containsExactly(7);
        assertThat(a.skipped()).extracting(s -> s.item() + ": " + s.reason()).containsExactly(
                "kvm kvm0: the device ID is not a PCI address",
                "gpu 0000:99:00.0: the device has no IOMMU group on this node");
    }

    @Test
    void twoLauncherPodsOfOneVmiAreRefused() {
        PodResourcesLister kubelet = () -> List.of(new AllocatedPod("ns1", "virt-launcher-foo-abcde", List.of()),
                new AllocatedPod("ns1", "virt-launcher-foo-zzzzz", List.of()));
        assertThatThrownBy(() -> new VfioGroups(kubelet, sys).of(VMI)).isInstanceOf(DeviceRefusedException.class)
                .hasMessageContaining("2 launcher pods of VMI ns1/foo");
    }

    @Test
    void noAllocationNoGroups() throws Exception {
        assertThat(new VfioGroups(PodResourcesLister.NONE, sys).of(VMI).groups()).isEmpty();
    }
}
