package io.vmhandler.core.devices;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.core.model.VmiDocument;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The plan's choices without root: an empty host /dev has no kvm or vhost-net (mknod needs root). */
class DevicePlanTest {
    @TempDir
    Path dir;

    private static VmiDocument vmi(String annotations, String devices) {
        return VmiDocument.parse("""
                apiVersion: kubevirt.io/v1
                kind: VirtualMachineInstance
                metadata: {name: foo, namespace: ns1, uid: u1, annotations: {%s}}
                spec: {domain: {devices: {%s}}}
                """.formatted(annotations, devices));
    }

    private HostDevices emptyHost() throws Exception {
        return new HostDevices(Files.createDirectories(dir.resolve("dev")), dir.resolve("devices"));
    }

    @Test
    void tunAlwaysVsockOnRequestAndDhcpPortForMasquerade() throws Exception {
        DevicePlan p = DevicePlan.of(vmi("", "autoattachVSOCK: true, interfaces: [{name: default, masquerade: {}}]"),
                emptyHost());
        assertThat(p.nodes()).containsExactly(DeviceNode.TUN, DeviceNode.VHOST_VSOCK);
        assertThat(p.portStart()).hasValue(67);
        assertThat(p.skipped()).extracting(DevicePlan.Skip::reason)
                .containsExactly("the node has no /dev/kvm", "the node has no /dev/vhost-net");
    }

    @Test
    void emulationAnnotationSkipsKvmAndSriovOnlyLeavesThePortAlone() throws Exception {
        DevicePlan p = DevicePlan.of(vmi("vmhandler.io/software-emulation: \"true\"",
                "interfaces: [{name: s, sriov: {}}]"), emptyHost());
        assertThat(p.nodes()).containsExactly(DeviceNode.TUN);
        assertThat(p.portStart()).isEmpty();
        assertThat(p.skipped()).extracting(DevicePlan.Skip::item).contains("/dev/kvm", "/dev/vhost-vsock");
        assertThat(p.skipped().get(0).reason()).contains("software emulation");
    }

    @Test
    void vfioMajorComesFromProcDevicesWhenTheHostHasNoGroupNode() throws Exception {
        Files.writeString(dir.resolve("devices"), """
                Character devices:
                  1 mem
                 10 misc
                235 vfio

                Block devices:
                  8 sd
                235 vfio-not-a-char
                """);
        HostDevices host = emptyHost();
        assertThat(host.vfioGroup(12)).hasValue(new DeviceNode("dev/vfio/12", 235, DeviceNode.ANY_MINOR));
        Files.writeString(dir.resolve("devices"), "Character devices:\n 10 misc\n");
        assertThat(host.vfioGroup(12)).isEmpty();
    }
}
