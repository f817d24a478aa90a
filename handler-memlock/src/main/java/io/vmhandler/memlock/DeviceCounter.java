package io.vmhandler.memlock;

import io.vmhandler.memlock.DomainXmlReader.Dom;
import java.util.ArrayList;
import java.util.List;
import org.w3c.dom.Element;

/**
 * Counts the devices of a domain XML's {@code <devices>} the way libvirt's memlock counters do
 * (src/qemu/qemu_domain.c {@code qemuDomainGetNumVFIOHostdevs}, {@code qemuDomainGetNumNVMeDisks},
 * {@code qemuDomainGetNumVDPADevices}; src/conf/domain_conf.c {@code virDomainControllerIsPSeriesPHB}).
 * Not thread-safe; one instance per parse.
 */
final class DeviceCounter {
    private static final String PHB_MODEL = "spapr-pci-host-bridge";

    private final String source;
    private final boolean ppc64Kvm;
    private final Nvlink2Probe nvlink2;
    private final List<String> pciAddresses = new ArrayList<>();

    DeviceCounter(String source, String arch, String virtType, Nvlink2Probe nvlink2) {
        this.source = source;
        this.ppc64Kvm = (arch.equals("ppc64") || arch.equals("ppc64le")) && virtType.equals("kvm");
        this.nvlink2 = nvlink2;
    }

    void count(Element devices, MemlockInput.Builder b) {
        int pci = 0;
        int mdev = 0;
        int other = 0;
        for (Element h : Dom.children(devices, "hostdev")) {
            String mode = h.getAttribute("mode").isEmpty() ? "subsystem" : h.getAttribute("mode");
            String type = h.getAttribute("type");
            if (mode.equals("subsystem") && type.equals("pci")) {
                // Before 10.0 libvirt counted only VFIO-backed PCI hostdevs, but the QEMU driver
                // resolves the default backend to VFIO and refuses the legacy one at start
                // (qemu_hostdev.c), so every PCI hostdev of a QEMU domain that runs is VFIO.
                pci++;
                address(Dom.child(Dom.child(h, "source"), "address"), "<hostdev type='pci'>");
            } else if (mode.equals("subsystem") && type.equals("mdev")) {
                mdev++;
            } else {
                other++;
            }
        }
        // An interface's hostdev lives in def->hostdevs too (domain_conf.c), so it counts as one;
        // the XML shows it only as the interface, never twice. The actual type (status XML's
        // <actual type>) is what libvirt counts (virDomainNetGetActualType).
        int hostdevNets = 0;
        int vdpaNets = 0;
        for (Element iface : Dom.children(devices, "interface")) {
            Element actual = Dom.child(iface, "actual");
            String type = actual != null && !actual.getAttribute("type").isEmpty() ? actual.getAttribute("type")
                    : iface.getAttribute("type");
            if (type.equals("hostdev")) {
                hostdevNets++;
                Element src = Dom.child(actual != null && Dom.child(actual, "source") != null ? actual : iface, "source");
                address(Dom.child(src, "address"), "<interface type='hostdev'>");
            } else if (type.equals("vdpa")) {
                vdpaNets++;
            }
        }
        int nvme = 0;
        int vhostVdpa = 0;
        for (Element disk : Dom.children(devices, "disk")) {
            boolean hasNvme = false;
            // The source chain: the disk, then nested <backingStore type=...>; an empty
            // <backingStore/> ends it (virStorageSourceIsBacking).
            for (Element e = disk; e != null; e = Dom.child(e, "backingStore")) {
                String type = e == disk && e.getAttribute("type").isEmpty() ? "file" : e.getAttribute("type");
                if (type.isEmpty()) {
                    break;
                }
                hasNvme |= type.equals("nvme");
                vhostVdpa += type.equals("vhostvdpa") ? 1 : 0;
            }
            nvme += hasNvme ? 1 : 0;
        }
        int iommus = Dom.children(devices, "iommu").size();
        b.vfioHostdevs(pci + mdev + hostdevNets).nvmeDisks(nvme).vdpaNets(vdpaNets).vhostVdpaSources(vhostVdpa)
                .iommus(iommus);
        b.note("nvfio " + (pci + mdev + hostdevNets) + " = PCI hostdevs " + pci + " + mdev hostdevs " + mdev
                + " + hostdev interfaces " + hostdevNets + (other > 0 ? " (" + other + " USB/SCSI/caps hostdevs do not count)" : ""));
        if (ppc64Kvm) {
            phbs(devices, b);
            for (String a : pciAddresses) {
                if (nvlink2.isNvlink2Bridge(a)) {
                    b.nvlink2(true).note("host PCI device " + a + " is an NVLink2 bridge");
                    break;
                }
            }
        }
    }

    private void phbs(Element devices, MemlockInput.Builder b) {
        // only whether a pci-root exists is read: libvirt adds the default PHB when there is none
        boolean anyRoot = false;
        int phbs = 0;
        for (Element c : Dom.children(devices, "controller")) {
            if (!c.getAttribute("type").equals("pci") || !c.getAttribute("model").equals("pci-root")) {
                continue;
            }
            anyRoot = true;
            Element model = Dom.child(c, "model");
            String name = model == null ? "" : model.getAttribute("name");
            // On pSeries libvirt names an unnamed pci-root spapr-pci-host-bridge
            // (qemu_domain_address.c qemuDomainPCIControllerSetDefaultModelName).
            if (name.isEmpty() || name.equals(PHB_MODEL)) {
                phbs++;
            }
        }
        if (!anyRoot) {
            phbs = 1;
            b.note("PHBs 1: no pci-root controller, libvirt adds the default spapr-pci-host-bridge");
        } else {
            b.note("PHBs " + phbs + ": pci-root controllers with model " + PHB_MODEL);
        }
        if (phbs < 1 || phbs > MemlockInput.MAX_PHBS) {
            throw new IllegalArgumentException(source + ": a pSeries guest has 1.." + MemlockInput.MAX_PHBS
                    + " PHBs (pci-root controllers of model " + PHB_MODEL + "), got " + phbs);
        }
        b.phbs(phbs);
    }

    /** Records a hostdev's host PCI address as libvirt formats it, if it is a valid one. */
    private void address(Element a, String what) {
        if (a == null || !ppc64Kvm) {
            return;
        }
        long domain = hex(a, "domain", what);
        long bus = hex(a, "bus", what);
        long slot = hex(a, "slot", what);
        long function = hex(a, "function", what);
        // virPCIDeviceAddressIsValid (src/util/virpci.c): bus, slot, function in range and not all of domain,
        // bus, slot zero. It sets no bound on the domain, which libvirt parses as an unsigned int
        // (virPCIDeviceAddressParseXML, virXMLPropUInt) and formats with %04x, so 0x10000 is "10000:...".
        if (domain > 0xFFFFFFFFL || bus > 0xFF || slot > 0x1F || function > 7 || (domain | bus | slot) == 0) {
            return;
        }
        pciAddresses.add(String.format("%04x:%02x:%02x.%x", domain, bus, slot, function));
    }

    private long hex(Element a, String attr, String what) {
        String v = a.getAttribute(attr).strip();
        if (v.isEmpty()) {
            return 0;
        }
        try {
            long n = Long.decode(v);
            if (n < 0) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(source + ": " + what + " <address " + attr + "='" + v
                    + "'> is not a number (e.g. 0x01)");
        }
    }
}
