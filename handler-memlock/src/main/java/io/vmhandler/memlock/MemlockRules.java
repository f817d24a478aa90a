package io.vmhandler.memlock;

/**
 * The four forms {@code qemuDomainGetMemLockLimitBytes} has taken (docs/memlock.md §7.1). The hard_limit,
 * locked and PPC64 branches are the same in all of them; they differ only in how devices are
 * counted off PPC64:
 * <ul>
 *   <li>{@link #UP_TO_8_6}: no per-device factor: any PCI/mdev hostdev, NVMe disk or vDPA net gives
 *       total + 1 GiB (verified in 8.1.0 src/qemu/qemu_domain.c:9232; NEWS 7.1.0 added vDPA nets).</li>
 *   <li>{@link #FROM_8_7}: per-device factor; NVMe disks are counted with the VFIO hostdevs, so they
 *       share the "1 without a vIOMMU" (NEWS 8.7.0; verified in Debian's 9.0.0-4+deb12u2
 *       src/qemu/qemu_domain.c:9313-9427).</li>
 *   <li>{@link #FROM_9_3}: NVMe disks always add one copy each (NEWS 9.3.0 "Properly configure
 *       locked memory limit for VMs with disk type='nvme'").</li>
 *   <li>{@link #FROM_9_8}: vhostvdpa disk sources count as vDPA devices (vDPA block devices are
 *       new in 9.8.0); unchanged since, up to the 12.x releases (verified in Debian's
 *       11.3.0 src/qemu/qemu_domain.c:8109-8175).</li>
 * </ul>
 */
public enum MemlockRules {
    UP_TO_8_6("<=8.6"),
    FROM_8_7("8.7-9.2"),
    FROM_9_3("9.3-9.7"),
    FROM_9_8(">=9.8");

    private final String label;

    MemlockRules(String label) {
        this.label = label;
    }

    /** Releases newer than any we know map to the newest rules. */
    public static MemlockRules of(LibvirtVersion v) {
        if (v.atLeast(9, 8)) {
            return FROM_9_8;
        }
        if (v.atLeast(9, 3)) {
            return FROM_9_3;
        }
        if (v.atLeast(8, 7)) {
            return FROM_8_7;
        }
        return UP_TO_8_6;
    }

    /** True from 8.7: each device can add one full copy of guest memory. */
    public boolean perDeviceFactor() {
        return this != UP_TO_8_6;
    }

    /** True from 9.3: NVMe disks are their own term instead of counting as VFIO devices. */
    public boolean nvmeSeparate() {
        return this == FROM_9_3 || this == FROM_9_8;
    }

    /** True from 9.8: vhostvdpa disk sources count as vDPA devices. */
    public boolean countsVhostVdpaDisks() {
        return this == FROM_9_8;
    }

    public String label() {
        return label;
    }
}
