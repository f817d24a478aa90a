package io.vmhandler.core.memlock;

import static io.vmhandler.core.memlock.VmiMemlockMapperTest.vmi;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vmhandler.core.memlock.VmiMemlockMapper.KubevirtDevices;
import io.vmhandler.core.model.VmiDocument;
import io.vmhandler.memlock.MemlockInput;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The edges of the VMI → memlock input mapping: each bound at exactly its value, the hotplug sizes with bytes
 * that are not whole KiB (worked out by hand in each test), which architecture decides the PHBs, and the
 * derivation lines that explain a result.
 */
class VmiMemlockMapperEdgesTest {
    private static MemlockInput map(String hostArch, String yaml) {
        return new VmiMemlockMapper(KubevirtDevices.NONE, hostArch).map(VmiDocument.parse(yaml));
    }

    private static MemlockInput map(String yaml) {
        return map("x86_64", yaml);
    }

    /** {@code n} SR-IOV interfaces: each is one PCI hostdev. */
    private static String sriov(int n) {
        StringBuilder s = new StringBuilder("memory: {guest: 1Gi}\ndevices:\n  interfaces: [");
        for (int i = 0; i < n; i++) {
            s.append(i == 0 ? "" : ", ").append("{name: n").append(i).append(", sriov: {}}");
        }
        return s.append("]").toString();
    }

    @Test
    void guestMemoryFromExactly1MiTo4PiIsAccepted() {
        assertThat(map(vmi("memory: {guest: 1Mi}")).totalMemoryKiB()).isEqualTo(1024);
        assertThatThrownBy(() -> map(vmi("memory: {guest: 1048575}")))
                .hasMessageContaining("spec.domain.memory.guest is 1048575 = 1048575 bytes; a guest needs at least 1Mi");
        assertThat(map(vmi("memory: {guest: 4Pi}")).totalMemoryKiB()).isEqualTo(MemlockInput.MAX_MEMORY_KIB);
        // 4Pi + 1 byte is one KiB more once rounded up
        assertThatThrownBy(() -> map(vmi("memory: {guest: 4503599627370497}")))
                .hasMessageContaining("absurdly large: the limit is 4Pi");
    }

    @Test
    void pseriesGetsOnePhbPerPciDeviceUpToQemusLimit() {
        // the node's arch decides only when the VMI names none
        assertThat(map("ppc64le", vmi(sriov(2))).phbs()).isEqualTo(3);
        assertThat(map("ppc64le", vmi(sriov(2), "  architecture: amd64\n")).phbs()).isEqualTo(1);
        assertThat(map("x86_64", vmi(sriov(2), "  architecture: ppc64le\n")).phbs()).isEqualTo(3);
        assertThat(map("x86_64", vmi(sriov(2))).phbs()).isEqualTo(1);
        // 31 devices + the default PHB = 32 = MAX_PHBS; one more device is refused, naming both counts
        assertThat(map("ppc64le", vmi(sriov(MemlockInput.MAX_PHBS - 1))).phbs()).isEqualTo(MemlockInput.MAX_PHBS);
        assertThatThrownBy(() -> map("ppc64le", vmi(sriov(MemlockInput.MAX_PHBS))))
                .hasMessage("VMI ns/v: 32 PCI devices need 33 PHBs on pSeries; QEMU supports 32");
    }

    @Test
    void aGuestThatDiffersFromItsBootSizeIsAHotplugEvenWithoutARequestInStatus() {
        // guest 4Gi, booted with 2Gi: the virtio-mem device is maxGuest - guestAtBoot = 6Gi, total 8Gi = 8388608 KiB
        MemlockInput in = map(vmi("memory: {guest: 4Gi, maxGuest: 8Gi}", "status:\n  memory: {guestAtBoot: 2Gi}\n"));
        assertThat(in.totalMemoryKiB()).isEqualTo(8388608);
        assertThat(in.maxMemoryKiB()).isEqualTo(8388608);
        assertThat(in.derivation()).anyMatch(l -> l.startsWith("totalMemoryKiB 8388608 = status.memory.guestAtBoot 2Gi 2097152"));
    }

    @Test
    void theVirtioMemDeviceIsRoundedUpToKiBOnItsOwn() {
        // maxGuest 2147483649 B = 2097153 KiB (rounded up); at boot 1Gi = 1048576 KiB; the device is
        // 2147483649 - 1073741824 = 1073741825 B = 1048577 KiB (rounded up): total 2097153 KiB
        MemlockInput in = map(vmi("memory: {guest: 1Gi, maxGuest: 2147483649}",
                "status:\n  memory: {guestAtBoot: 1Gi, guestRequested: 2147483649}\n"));
        assertThat(in.totalMemoryKiB()).isEqualTo(2097153);
        assertThat(in.maxMemoryKiB()).isEqualTo(2097153);
    }

    @Test
    void theBootSizeMayReachMaxGuestButNeitherItNorTheGuestMayPassIt() {
        MemlockInput atMax = map(vmi("memory: {guest: 2Gi, maxGuest: 8Gi}", "status:\n  memory: {guestAtBoot: 8Gi}\n"));
        assertThat(atMax.totalMemoryKiB()).isEqualTo(8388608);
        MemlockInput guestAtMax = map(vmi("memory: {guest: 8Gi, maxGuest: 8Gi}", "status:\n  memory: {guestAtBoot: 2Gi}\n"));
        assertThat(guestAtMax.totalMemoryKiB()).as("guest equal to maxGuest is allowed").isEqualTo(8388608);
        assertThatThrownBy(() -> map(vmi("memory: {guest: 16Gi, maxGuest: 8Gi}", "status:\n  memory: {guestAtBoot: 2Gi}\n")))
                .hasMessageContaining("spec.domain.memory.guest 16Gi (at boot 2Gi) is greater than spec.domain.memory.maxGuest 8Gi");
        assertThatThrownBy(() -> map(vmi("memory: {guest: 2Gi, maxGuest: 8Gi}", "status:\n  memory: {guestAtBoot: 9Gi}\n")))
                .hasMessageContaining("(at boot 9Gi) is greater than spec.domain.memory.maxGuest 8Gi");
    }

    @Test
    void theDeviceLinesSayWhatWasCountedAndWhatWasNot() {
        MemlockInput in = new VmiMemlockMapper(new KubevirtDevices(Set.of(), Set.of("usb/key")), "x86_64")
                .map(VmiDocument.parse(vmi("memory: {guest: 1Gi}\ndevices:\n"
                        + "  gpus: [{name: g, deviceName: nvidia.com/A100}]\n"
                        + "  hostDevices: [{name: h, deviceName: intel.com/qat}, {name: k, deviceName: usb/key}]")));
        assertThat(in.vfioHostdevs()).isEqualTo(2);
        assertThat(in.derivation()).contains("nvfio 2 = gpus 1 + hostDevices 1 + SR-IOV interfaces 0"
                + " (1 USB host devices do not count)", "no vIOMMU: KubeVirt adds one only for GraceIOVirtualization devices");
        assertThat(map(vmi(sriov(1))).derivation()).contains("nvfio 1 = gpus 0 + hostDevices 0 + SR-IOV interfaces 1");
    }

    @Test
    void aBlankDeviceNameIsRefused() {
        assertThatThrownBy(() -> map(vmi("memory: {guest: 1Gi}\ndevices: {hostDevices: [{name: h, deviceName: ' '}]}")))
                .hasMessage("VMI ns/v: spec.domain.devices.hostDevices[0].deviceName is required");
    }
}
