package io.vmhandler.it;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import javax.xml.parsers.DocumentBuilderFactory;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/**
 * The libvirt XML of a domain that can hot-plug and hot-unplug a NIC without a guest OS, and of the NIC itself
 * (docs/test-host.md B4).
 *
 * <p>Why q35 with spare {@code pcie-root-port}s: on the default i440fx machine QEMU refuses the hotplug
 * ({@code Bus 'pci.0' does not support hotplugging}); a PCIe device needs a free root port to land in, and
 * libvirt adds only as many as the boot-time devices use. Why {@code ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off}:
 * q35 in QEMU 7.2 defaults to ACPI PCI hotplug (QEMU's hw/i386/pc_q35.c then sets {@code enable-native-hotplug=off}
 * on every PCIe slot), whose unplug waits for the guest's ACPI code to eject the device: with no OS the device
 * stays forever (measured: still in {@code virsh dumpxml} 20 s after {@code detach-device}). With it off the
 * root ports use native PCIe hotplug, and QEMU completed the unplug without a guest. Why TCG ({@code type='qemu'}), one vCPU and no {@code <cpu>}: no
 * KVM is needed to hold tap queues, one TCG vCPU spinning in firmware is the least CPU this shared machine can
 * spare, and host-passthrough aborts here (B3 point 2). {@code <driver name='qemu'>}: no vhost-net (B3 point 3).
 */
final class PcieHotplugDomain {
    /** Root ports beyond the first interface's: one for the hot-plugged NIC, one spare. */
    private static final int ROOT_PORTS = 3;

    private PcieHotplugDomain() {}

    static String domain(String name, String tap, int queues) {
        StringBuilder ports = new StringBuilder();
        for (int i = 1; i <= ROOT_PORTS; i++) {
            ports.append("    <controller type='pci' index='").append(i).append("' model='pcie-root-port'/>\n");
        }
        return """
                <domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
                  <name>%s</name>
                  <memory unit='MiB'>128</memory>
                  <vcpu>1</vcpu>
                  <os><type arch='x86_64' machine='q35'>hvm</type></os>
                  <devices>
                    <controller type='usb' model='none'/>
                    <memballoon model='none'/>
                    <controller type='pci' index='0' model='pcie-root'/>
                %s%s  </devices>
                  <qemu:commandline>
                    <qemu:arg value='-global'/>
                    <qemu:arg value='ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off'/>
                  </qemu:commandline>
                </domain>
                """.formatted(name, ports, nic(tap, queues, Optional.empty()).indent(4));
    }

    /**
     * An ethernet NIC on an existing tap ({@code managed='no'}: libvirt opens it and configures nothing on it).
     * A detach must name the MAC libvirt assigned: two virtio ethernet NICs otherwise match the same description
     * ({@code multiple matching devices found}).
     */
    static String nic(String tap, int queues, Optional<String> mac) {
        return """
                <interface type='ethernet'>
                %s  <target dev='%s' managed='no'/>
                  <model type='virtio'/>
                  <driver name='qemu' queues='%d'/>
                </interface>
                """.formatted(mac.map(m -> "  <mac address='" + m + "'/>\n").orElse(""), tap, queues);
    }

    /** The MAC of the interface on {@code tap} in a {@code virsh dumpxml}, if the domain has one. */
    static Optional<String> macOf(String domainXml, String tap) throws Exception {
        NodeList ifaces = DocumentBuilderFactory.newInstance().newDocumentBuilder()
                .parse(new ByteArrayInputStream(domainXml.getBytes(StandardCharsets.UTF_8)))
                .getElementsByTagName("interface");
        for (int i = 0; i < ifaces.getLength(); i++) {
            Element iface = (Element) ifaces.item(i);
            NodeList targets = iface.getElementsByTagName("target");
            NodeList macs = iface.getElementsByTagName("mac");
            if (targets.getLength() == 1 && tap.equals(((Element) targets.item(0)).getAttribute("dev"))
                    && macs.getLength() == 1) {
                return Optional.of(((Element) macs.item(0)).getAttribute("address"));
            }
        }
        return Optional.empty();
    }
}
