package io.vmhandler.core.memlock;

import io.vmhandler.memlock.MemlockInput;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vmhandler.core.memlock.VmiMemlockMapper.KubevirtDevices;
import io.vmhandler.core.model.VmiDocument;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** How a VMI maps onto the domain KubeVirt's converter builds; sizes in KiB (1 GiB = 1048576 KiB). */
class VmiMemlockMapperTest {
    private final VmiMemlockMapper mapper = new VmiMemlockMapper(KubevirtDevices.NONE, "x86_64");

    static String vmi(String domain) {
        return vmi(domain, "");
    }

    static String vmi(String domain, String rest) {
        return "apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\nmetadata: {name: v, namespace: ns}\n"
                + "spec:\n  domain:\n" + domain.indent(4) + rest;
    }

    private MemlockInput map(String yaml) {
        return mapper.map(VmiDocument.parse(yaml));
    }

    @Test
    void guestMemoryWinsOverRequestsAndLimits() {
        assertThat(map(vmi("memory: {guest: 4Gi}\nresources: {requests: {memory: 2Gi}, limits: {memory: 8Gi}}"))
                .totalMemoryKiB()).isEqualTo(4194304);
    }

    @Test
    void withoutGuestRequestsWinOverLimits_limitsOnlyWhenNoRequest() {
        // GetVirtualMemory: limits are used only when requests.memory is not set
        assertThat(map(vmi("resources: {requests: {memory: 2Gi}, limits: {memory: 3Gi}}")).totalMemoryKiB())
                .isEqualTo(2097152);
        assertThat(map(vmi("resources: {limits: {memory: 3Gi}}")).totalMemoryKiB()).isEqualTo(3145728);
        assertThat(map(vmi("resources: {requests: {memory: 1073741824}}")).totalMemoryKiB()).isEqualTo(1048576);
    }

    @Test
    void decimalQuantitiesRoundUpToKiB_1point5G_is_1500000000B_1464844KiB() {
        // 1500000000 / 1024 = 1464843.75 -> 1464844 (libvirt VIR_DIV_UP)
        assertThat(map(vmi("memory: {guest: 1.5G}")).totalMemoryKiB()).isEqualTo(1464844);
    }

    @Test
    void missingMemoryNamesTheThreeFields() {
        assertThatThrownBy(() -> map(vmi("cpu: {cores: 2}"))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("VMI ns/v: memory is missing: set spec.domain.memory.guest,"
                        + " spec.domain.resources.requests.memory or spec.domain.resources.limits.memory");
    }

    @Test
    void badQuantitiesNameTheField() {
        assertThatThrownBy(() -> map(vmi("memory: {guest: 2GB}")))
                .hasMessageContaining("spec.domain.memory.guest has an unknown unit 'GB'");
        assertThatThrownBy(() -> map(vmi("resources: {requests: {memory: -2Gi}}")))
                .hasMessageContaining("spec.domain.resources.requests.memory must not be negative");
        assertThatThrownBy(() -> map(vmi("memory: {guest: 512m}")))
                .hasMessageContaining("spec.domain.memory.guest is 512m = 1 bytes; a guest needs at least 1Mi");
        assertThatThrownBy(() -> map(vmi("memory: {guest: 8Pi}")))
                .hasMessageContaining("spec.domain.memory.guest is 8Pi, absurdly large");
        assertThatThrownBy(() -> map(vmi("memory: {guest: [4Gi]}")))
                .hasMessageContaining("spec.domain.memory.guest must be a quantity like 2Gi, got a list");
    }

    @Test
    void maxGuestWithoutHotplugIsTheBootMemory_maxMemoryIsMaxGuest() {
        MemlockInput in = map(vmi("memory: {guest: 2Gi, maxGuest: 8Gi}"));
        assertThat(in.totalMemoryKiB()).isEqualTo(2097152);
        assertThat(in.maxMemoryKiB()).isEqualTo(8388608);
    }

    @Test
    void maxGuestEqualToGuestIsNoHotplug() {
        MemlockInput in = map(vmi("memory: {guest: 4Gi, maxGuest: 4Gi}"));
        assertThat(in.totalMemoryKiB()).isEqualTo(4194304);
        assertThat(in.maxMemoryKiB()).isZero();
    }

    @Test
    void afterAHotplugRequestTheVirtioMemDeviceMakesTheTotalMaxGuest_2GiBplus6GiB() {
        String spec = "memory: {guest: 4Gi, maxGuest: 8Gi}";
        // 2097152 at boot + virtio-mem (8 GiB - 2 GiB) 6291456 = 8388608
        MemlockInput in = map(vmi(spec, "status:\n  memory: {guestAtBoot: 2Gi, guestRequested: 4Gi}\n"));
        assertThat(in.totalMemoryKiB()).isEqualTo(8388608);
        // the device stays when the guest goes back to its boot size
        MemlockInput back = map(vmi("memory: {guest: 2Gi, maxGuest: 8Gi}",
                "status:\n  memory: {guestAtBoot: 2Gi, guestRequested: 2Gi, guestCurrent: 4Gi}\n"));
        assertThat(back.totalMemoryKiB()).isEqualTo(8388608);
        // booted, nothing requested yet: just the boot memory
        MemlockInput booted = map(vmi("memory: {guest: 2Gi, maxGuest: 8Gi}",
                "status:\n  memory: {guestAtBoot: 2Gi, guestRequested: 2Gi, guestCurrent: 2Gi}\n"));
        assertThat(booted.totalMemoryKiB()).isEqualTo(2097152);
    }

    @Test
    void maxGuestBelowGuestOrWithoutGuestIsRefused() {
        assertThatThrownBy(() -> map(vmi("memory: {guest: 8Gi, maxGuest: 4Gi}")))
                .hasMessageContaining("is greater than spec.domain.memory.maxGuest 4Gi");
        assertThatThrownBy(() -> map(vmi("memory: {maxGuest: 4Gi}\nresources: {requests: {memory: 2Gi}}")))
                .hasMessageContaining("spec.domain.memory.guest is required when spec.domain.memory.maxGuest is set");
    }

    @Test
    void gpusHostDevicesAndSriovInterfacesAreVfioHostdevs_usbHostDevicesAreNot() {
        VmiMemlockMapper m = new VmiMemlockMapper(new KubevirtDevices(Set.of(), Set.of("kubevirt.io/usb-storage")),
                "x86_64");
        MemlockInput in = m.map(VmiDocument.parse(vmi("memory: {guest: 1Gi}\ndevices:\n"
                + "  gpus: [{name: g1, deviceName: nvidia.com/A10}]\n"
                + "  hostDevices: [{name: h1, deviceName: intel.com/qat}, {name: u1, deviceName: kubevirt.io/usb-storage}]\n"
                + "  interfaces: [{name: default, masquerade: {}}, {name: s1, sriov: {}}, {name: s2, sriov: {}}]")));
        // 1 gpu + 1 PCI host device + 2 SR-IOV = 4; the USB device is not counted
        assertThat(in.vfioHostdevs()).isEqualTo(4);
        assertThat(in.iommus()).isZero();
        assertThat(in.nvmeDisks() + in.vdpaNets() + in.vhostVdpaSources()).isZero();
        assertThat(in.hardLimitKiB()).isEmpty();
        assertThat(in.locked()).isFalse();
        assertThat(in.derivation()).anyMatch(t -> t.contains("(1 USB host devices do not count)"));
    }

    @Test
    void graceResourcesGetOneVIOMMUEach() {
        VmiMemlockMapper m = new VmiMemlockMapper(new KubevirtDevices(Set.of("nvidia.com/GH100"), Set.of()), "aarch64");
        MemlockInput in = m.map(VmiDocument.parse(vmi("memory: {guest: 1Gi}\ndevices:\n"
                + "  gpus: [{name: g1, deviceName: nvidia.com/GH100}, {name: g2, deviceName: nvidia.com/GH100},"
                + " {name: g3, deviceName: nvidia.com/A10}]")));
        assertThat(in.vfioHostdevs()).isEqualTo(3);
        assertThat(in.iommus()).isEqualTo(2);
    }

    @Test
    void deviceNameIsRequired() {
        assertThatThrownBy(() -> map(vmi("memory: {guest: 1Gi}\ndevices: {gpus: [{name: g1}]}")))
                .hasMessageContaining("spec.domain.devices.gpus[0].deviceName is required");
    }

    @Test
    void architectureMapsToLibvirtNamesAndPpc64leGetsOnePhbPerDevice() {
        assertThat(map(vmi("memory: {guest: 1Gi}", "  architecture: arm64\n")).arch()).isEqualTo("aarch64");
        assertThat(map(vmi("memory: {guest: 1Gi}", "  architecture: s390x\n")).arch()).isEqualTo("s390x");
        assertThat(map(vmi("memory: {guest: 1Gi}")).arch()).isEqualTo("x86_64"); // the node's
        MemlockInput power = map(vmi("memory: {guest: 1Gi}\ndevices:\n  interfaces: [{name: a, sriov: {}},"
                + " {name: b, sriov: {}}]", "  architecture: ppc64le\n"));
        assertThat(power.arch()).isEqualTo("ppc64le");
        assertThat(power.phbs()).isEqualTo(3); // the default PHB + 2 isolated VFs
        assertThat(power.virtType()).isEqualTo("kvm");
        assertThatThrownBy(() -> map(vmi("memory: {guest: 1Gi}", "  architecture: riscv64\n")))
                .hasMessageContaining("spec.architecture must be one of amd64, arm64, ppc64le, s390x, got 'riscv64'");
    }
}
