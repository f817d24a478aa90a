package io.vmhandler.core.memlock;

import io.vmhandler.memlock.MemlockInput;
import io.vmhandler.core.model.Quantity;
import io.vmhandler.core.model.VmiDocument;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Maps a kubevirt.io/v1 VirtualMachineInstance onto the domain KubeVirt's converter builds from it
 * (docs/memlock.md §7.4), as a {@link MemlockInput}:
 * <ul>
 *   <li>{@code <memory>}: {@code memory.guest}, else {@code limits.memory} when no request is set,
 *       else {@code requests.memory} (converter {@code vcpu.GetVirtualMemory}); with memory hotplug
 *       ({@code maxGuest} set and different) the guest memory at boot, and {@code <maxMemory>} =
 *       maxGuest (converter/compute/memory.go). Bytes are rounded up, then up to KiB as libvirt does.</li>
 *   <li>After a hotplug was requested the domain has a virtio-mem device of maxGuest - guestAtBoot
 *       (pkg/liveupdate/memory {@code BuildMemoryDevice}), so libvirt's total is maxGuest.</li>
 *   <li>GPUs, PCI host devices and SR-IOV interfaces become PCI/mdev {@code <hostdev>}s; host devices
 *       whose resource is a USB one (KubeVirt's permittedHostDevices.usb) become USB hostdevs, which
 *       libvirt does not count.</li>
 *   <li>KubeVirt adds a vIOMMU (one smmuv3 per device) only for GraceIOVirtualization devices, a
 *       cluster setting: the resource names in {@link KubevirtDevices#viommuResources()}.</li>
 *   <li>No memtune, no locked memory, no NVMe or vDPA devices: KubeVirt creates none of them.</li>
 * </ul>
 * Stateless and thread-safe.
 */
public final class VmiMemlockMapper {
    /** A guest below 1 MiB is a unit mistake (e.g. {@code 512m}, milli-bytes, for {@code 512Mi}). */
    static final long MIN_GUEST_BYTES = 1L << 20;

    /**
     * What the cluster's KubeVirt configuration says about device resource names.
     *
     * @param viommuResources resource names that get a vIOMMU (GraceIOVirtualization PCI devices)
     * @param usbResources resource names of permittedHostDevices.usb
     */
    public record KubevirtDevices(Set<String> viommuResources, Set<String> usbResources) {
        public static final KubevirtDevices NONE = new KubevirtDevices(Set.of(), Set.of());

        public KubevirtDevices {
            viommuResources = Set.copyOf(viommuResources);
            usbResources = Set.copyOf(usbResources);
        }
    }

    private static final Map<String, String> ARCHES = Map.of("amd64", "x86_64", "arm64", "aarch64", "ppc64le",
            "ppc64le", "s390x", "s390x");

    private final KubevirtDevices devices;
    private final String hostArch;

    /** @param hostArch libvirt's name of this node's architecture, for a VMI without spec.architecture */
    public VmiMemlockMapper(KubevirtDevices devices, String hostArch) {
        this.devices = devices;
        this.hostArch = hostArch;
    }

    public MemlockInput map(VmiDocument vmi) {
        String source = "VMI " + vmi.key();
        MemlockInput.Builder b = MemlockInput.builder(source);
        String arch = vmi.string("spec.architecture", null);
        if (arch == null) {
            b.arch(hostArch).note("arch " + hostArch + ": no spec.architecture, the node's");
        } else if (ARCHES.containsKey(arch)) {
            b.arch(ARCHES.get(arch));
        } else {
            throw new IllegalArgumentException(source + ": spec.architecture must be one of amd64, arm64, ppc64le, s390x,"
                    + " got '" + arch + "'");
        }
        memory(vmi, source, b);
        int pci = devices(vmi, source, b);
        if (arch != null ? arch.equals("ppc64le") : hostArch.startsWith("ppc64")) {
            // libvirt gives every PCI hostdev of another IOMMU group its own PHB on pSeries
            // (qemu_domain_address.c qemuDomainFillDeviceIsolationGroup); a VMI cannot tell the
            // groups, so assume one group per device, as for SR-IOV VFs and discrete GPUs.
            if (1 + pci > MemlockInput.MAX_PHBS) {
                throw new IllegalArgumentException(source + ": " + pci + " PCI devices need " + (1 + pci)
                        + " PHBs on pSeries; QEMU supports " + MemlockInput.MAX_PHBS);
            }
            b.phbs(1 + pci).note("PHBs " + (1 + pci) + " = the default one + one per PCI device (assumed to be in its own"
                    + " IOMMU group); NVLink2 is not known from a VMI, use --domain-xml on such hosts");
        }
        return b.build();
    }

    private static void memory(VmiDocument vmi, String source, MemlockInput.Builder b) {
        Quantity guest = quantity(vmi, "spec.domain.memory.guest");
        Quantity maxGuest = quantity(vmi, "spec.domain.memory.maxGuest");
        Quantity requests = quantity(vmi, "spec.domain.resources.requests.memory");
        Quantity limits = quantity(vmi, "spec.domain.resources.limits.memory");
        if (maxGuest == null || (guest != null && guest.equals(maxGuest))) {
            String field;
            Quantity q;
            if (guest != null) {
                field = "spec.domain.memory.guest";
                q = guest;
            } else if (limits != null && requests == null) {
                field = "spec.domain.resources.limits.memory";
                q = limits;
            } else if (requests != null) {
                field = "spec.domain.resources.requests.memory";
                q = requests;
            } else {
                throw new IllegalArgumentException(source + ": memory is missing: set spec.domain.memory.guest,"
                        + " spec.domain.resources.requests.memory or spec.domain.resources.limits.memory");
            }
            long kib = kib(source, field, q);
            b.totalMemoryKiB(kib).note("totalMemoryKiB " + kib + " = " + field + " " + q + " (bytes rounded up to KiB)");
            return;
        }
        if (guest == null) {
            throw new IllegalArgumentException(source + ": spec.domain.memory.guest is required when"
                    + " spec.domain.memory.maxGuest is set (memory hotplug)");
        }
        Quantity atBoot = quantity(vmi, "status.memory.guestAtBoot");
        String bootField = atBoot != null ? "status.memory.guestAtBoot" : "spec.domain.memory.guest";
        if (atBoot == null) {
            atBoot = guest;
        }
        long maxKiB = kib(source, "spec.domain.memory.maxGuest", maxGuest);
        long bootKiB = kib(source, bootField, atBoot);
        if (guest.compareTo(maxGuest) > 0 || atBoot.compareTo(maxGuest) > 0) {
            throw new IllegalArgumentException(source + ": spec.domain.memory.guest " + guest + " (at boot " + atBoot
                    + ") is greater than spec.domain.memory.maxGuest " + maxGuest);
        }
        b.maxMemoryKiB(maxKiB).note("maxMemoryKiB " + maxKiB + " = spec.domain.memory.maxGuest " + maxGuest);
        if (hotplugged(vmi, guest, atBoot)) {
            // KubeVirt sizes the device in bytes; libvirt rounds each size up to KiB on its own.
            long deviceBytes = maxGuest.bytesCeil("spec.domain.memory.maxGuest") - atBoot.bytesCeil(bootField);
            long deviceKiB = deviceBytes / 1024 + (deviceBytes % 1024 == 0 ? 0 : 1);
            long total = bootKiB + deviceKiB;
            b.totalMemoryKiB(total).note("totalMemoryKiB " + total + " = " + bootField + " " + atBoot + " " + bootKiB
                    + " + virtio-mem device maxGuest - guestAtBoot " + deviceKiB + ": a memory hotplug was requested");
        } else {
            b.totalMemoryKiB(bootKiB).note("totalMemoryKiB " + bootKiB + " = " + bootField + " " + atBoot
                    + " (memory hotplug possible up to maxGuest, none requested yet)");
        }
    }

    /** A virtio-mem device exists once the guest memory differs from its boot value. */
    private static boolean hotplugged(VmiDocument vmi, Quantity guest, Quantity atBoot) {
        if (!guest.equals(atBoot)) {
            return true;
        }
        for (String f : List.of("status.memory.guestRequested", "status.memory.guestCurrent")) {
            Quantity q = quantity(vmi, f);
            if (q != null && !q.equals(atBoot)) {
                return true;
            }
        }
        return false;
    }

    private static Quantity quantity(VmiDocument vmi, String field) {
        Object v = vmi.get(field);
        return v == null ? null : Quantity.of(field, v);
    }

    private static long kib(String source, String field, Quantity q) {
        long bytes = q.bytesCeil(field);
        if (bytes < MIN_GUEST_BYTES) {
            throw new IllegalArgumentException(source + ": " + field + " is " + q + " = " + bytes
                    + " bytes; a guest needs at least 1Mi (m is milli, Mi is mebi)");
        }
        long kib = bytes / 1024 + (bytes % 1024 == 0 ? 0 : 1);
        if (kib > MemlockInput.MAX_MEMORY_KIB) {
            throw new IllegalArgumentException(source + ": " + field + " is " + q + ", absurdly large: the limit is 4Pi");
        }
        return kib;
    }

    /** Counts the hostdevs and vIOMMUs KubeVirt will create; returns the PCI/mdev hostdev count. */
    private int devices(VmiDocument vmi, String source, MemlockInput.Builder b) {
        int gpus = 0;
        int hostDevices = 0;
        int usb = 0;
        int viommu = 0;
        for (String path : List.of("spec.domain.devices.gpus", "spec.domain.devices.hostDevices")) {
            List<Map<String, Object>> list = vmi.list(path);
            for (int i = 0; i < list.size(); i++) {
                Object name = list.get(i).get("deviceName");
                if (!(name instanceof String s) || s.isBlank()) {
                    throw new IllegalArgumentException(source + ": " + path + "[" + i + "].deviceName is required");
                }
                boolean gpu = path.endsWith("gpus");
                if (!gpu && devices.usbResources().contains(s)) {
                    usb++;
                    continue;
                }
                if (gpu) {
                    gpus++;
                } else {
                    hostDevices++;
                }
                viommu += devices.viommuResources().contains(s) ? 1 : 0;
            }
        }
        int sriov = 0;
        for (Map<String, Object> iface : vmi.list("spec.domain.devices.interfaces")) {
            sriov += iface.containsKey("sriov") ? 1 : 0;
        }
        int nvfio = gpus + hostDevices + sriov;
        b.vfioHostdevs(nvfio).iommus(viommu);
        b.note("nvfio " + nvfio + " = gpus " + gpus + " + hostDevices " + hostDevices + " + SR-IOV interfaces " + sriov
                + (usb > 0 ? " (" + usb + " USB host devices do not count)" : ""));
        b.note(viommu > 0 ? "vIOMMU: " + viommu + " smmuv3 for GraceIOVirtualization devices"
                : "no vIOMMU: KubeVirt adds one only for GraceIOVirtualization devices");
        return nvfio;
    }
}
