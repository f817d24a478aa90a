package io.vmhandler.memlock;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;

/**
 * libvirt's {@code ppc64VFIODeviceIsNV2Bridge} (src/qemu/qemu_domain.c): a PCI device is an NVLink2
 * bridge when its device-tree node has all of {@code ibm,gpu}, {@code ibm,nvlink},
 * {@code ibm,nvlink-speed} and {@code memory-region} under
 * {@code /sys/bus/pci/devices/<address>/of_node/}. The sysfs root is configurable so the check can be
 * exercised on a copy of a POWER host's tree. Stateless and thread-safe.
 */
public final class SysfsNvlink2Probe implements Nvlink2Probe {
    private static final List<String> FILES = List.of("ibm,gpu", "ibm,nvlink", "ibm,nvlink-speed", "memory-region");
    /** Only addresses we formatted ourselves reach the filesystem: no path tricks. */
    private static final Pattern ADDRESS = Pattern.compile("[0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7]");

    private final Path pciDevices;

    /** @param sysfs the sysfs mount, {@code /sys} on a host */
    public SysfsNvlink2Probe(Path sysfs) {
        this.pciDevices = sysfs.resolve("bus/pci/devices");
    }

    @Override
    public boolean isNvlink2Bridge(String pciAddress) {
        if (!ADDRESS.matcher(pciAddress).matches()) {
            throw new IllegalArgumentException("not a PCI address: " + pciAddress);
        }
        Path node = pciDevices.resolve(pciAddress).resolve("of_node");
        return FILES.stream().allMatch(f -> Files.exists(node.resolve(f)));
    }
}
