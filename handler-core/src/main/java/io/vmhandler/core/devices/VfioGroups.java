package io.vmhandler.core.devices;

import io.vmhandler.core.devices.DevicePlan.Skip;
import io.vmhandler.core.model.VmiDocument;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * The IOMMU groups of the PCI devices kubelet allocated to a VMI's launcher pod. The allocation comes
 * from kubelet's PodResources API only, never from the request or the pod's environment; the group of
 * each device from sysfs ({@code /sys/bus/pci/devices/ADDR/iommu_group}, a link to
 * {@code /sys/kernel/iommu_groups/N}; Documentation/driver-api/vfio.rst).
 *
 * <p>Assumptions, both stated in docs/devices.md: (1) device plugins for PCI passthrough (the SR-IOV
 * network device plugin, KubeVirt's PCI host-device plugin) report PCI addresses
 * ({@code 0000:81:00.1}) as device IDs; other IDs are skipped with a reason. (2) PodResources names a
 * pod by namespace and name, not UID; the launcher pod is the VMI's namespace's pod named
 * {@code virt-launcher-<vmi name>-<5 characters>} (KubeVirt's generateName), and more than one such pod
 * on the node (a same-node migration) is refused rather than guessed.
 */
public final class VfioGroups {
    private static final Pattern PCI_ADDRESS = Pattern.compile("[0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7]");

    /** The groups found and the allocated devices that gave none. */
    public record Allocation(List<Integer> groups, List<Skip> skipped) {}

    private final PodResourcesLister lister;
    private final Path sysfsRoot;

    /** @param sysfsRoot the host's /sys */
    public VfioGroups(PodResourcesLister lister, Path sysfsRoot) {
        this.lister = lister;
        this.sysfsRoot = sysfsRoot;
    }

    public Allocation of(VmiDocument vmi) throws IOException {
        Pattern launcher = Pattern.compile("virt-launcher-" + Pattern.quote(vmi.name()) + "-[a-z0-9]{5}");
        List<PodResourcesLister.AllocatedPod> pods = new ArrayList<>();
        for (PodResourcesLister.AllocatedPod p : lister.list()) {
            if (p.namespace().equals(vmi.namespace()) && launcher.matcher(p.name()).matches()) {
                pods.add(p);
            }
        }
        List<Skip> skipped = new ArrayList<>();
        TreeSet<Integer> groups = new TreeSet<>();
        if (pods.size() > 1) {
            throw new DeviceRefusedException(List.of("kubelet lists " + pods.size() + " launcher pods of VMI "
                    + vmi.key() + " on this node; their PCI devices cannot be told apart"));
        }
        for (PodResourcesLister.AllocatedPod p : pods) {
            for (PodResourcesLister.Device d : p.devices()) {
                String id = d.id().toLowerCase(java.util.Locale.ROOT);
                if (!PCI_ADDRESS.matcher(id).matches()) {
                    skipped.add(new Skip(d.resource() + " " + d.id(), "the device ID is not a PCI address"));
                    continue;
                }
                Path link = sysfsRoot.resolve("bus/pci/devices").resolve(id).resolve("iommu_group");
                try {
                    String group = Files.readSymbolicLink(link).getFileName().toString();
                    groups.add(Integer.parseInt(group));
                } catch (NoSuchFileException e) {
                    skipped.add(new Skip(d.resource() + " " + d.id(), "the device has no IOMMU group on this node"));
                } catch (NumberFormatException e) {
                    skipped.add(new Skip(d.resource() + " " + d.id(), "its iommu_group link names no group number"));
                }
            }
        }
        return new Allocation(List.copyOf(groups), skipped);
    }
}
