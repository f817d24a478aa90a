package io.vmhandler.memlock;

/**
 * Whether a host PCI device is an NVLink2 bridge, which switches libvirt's PPC64 formula to its
 * NVLink2 term. libvirt decides this from the host's sysfs ({@code ppc64VFIODeviceIsNV2Bridge});
 * {@link SysfsNvlink2Probe} does the same. Implementations must be thread-safe; they may block
 * briefly on sysfs.
 */
@FunctionalInterface
public interface Nvlink2Probe {
    /** A probe for hosts without NVLink2 (everything but POWER9 with NVIDIA V100 SXM2). */
    Nvlink2Probe NONE = address -> false;

    /** @param pciAddress the host address as libvirt formats it, {@code DDDD:BB:SS.F} in hex */
    boolean isNvlink2Bridge(String pciAddress);
}
