package io.vmhandler.memlock;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What libvirt will set RLIMIT_MEMLOCK to, and why.
 *
 * @param bytes the limit in bytes, in the encoding {@code prlimit} takes:
 *     {@code 0} = libvirt sets no limit (leave the limit as is), {@link #UNLIMITED} ({@code -1}) = unlimited
 * @param unlimited the {@code <locked/>} case: libvirt asks for RLIM_INFINITY
 * @param branch which branch of {@code qemuDomainGetMemLockLimitBytes} decided
 * @param factor copies of guest memory in the device branch (0 in the other branches)
 * @param terms the arithmetic, one step per line, with the input's derivation first
 */
public record MemlockResult(long bytes, boolean unlimited, Branch branch, LibvirtVersion libvirtVersion,
        MemlockRules rules, int factor, MemlockInput input, List<String> terms) {

    /**
     * RLIM_INFINITY as prlimit(2) takes it: {@code ~0UL} in {@code <asm-generic/resource.h>}, all ones, i.e. -1 as a
     * signed Java long. Declared here so the formula stays free of native code.
     */
    public static final long UNLIMITED = -1L;

    /** The branches of qemuDomainGetMemLockLimitBytes, in the order libvirt tries them. */
    public enum Branch {
        /** {@code <memtune><hard_limit>} is set. */
        HARD_LIMIT,
        /** {@code <memoryBacking><locked/>}: unlimited. */
        LOCKED,
        /** ppc64/ppc64le with KVM: getPPC64MemLockLimitBytes. */
        PPC64,
        /** VFIO hostdevs, NVMe disks or vDPA devices: factor x total + 1 GiB. */
        DEVICES,
        /** None of the above: 0, libvirt leaves the limit alone. */
        NONE;

        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    public MemlockResult {
        terms = List.copyOf(terms);
    }

    /** The one-line CLI form: the byte count, {@code unlimited}, or {@code 0}. */
    public String plain() {
        return unlimited ? "unlimited" : Long.toString(bytes);
    }

    /** The --json form: {bytes, unlimited, branch, factor, totalMemoryKiB, the counts..., terms}. */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("bytes", unlimited ? null : bytes);
        m.put("unlimited", unlimited);
        m.put("branch", branch.label());
        m.put("factor", factor);
        m.put("totalMemoryKiB", input.totalMemoryKiB());
        m.put("maxMemoryKiB", input.maxMemoryKiB());
        m.put("hardLimitKiB", input.hardLimitKiB().isPresent() ? input.hardLimitKiB().getAsLong() : null);
        m.put("locked", input.locked());
        m.put("vfioHostdevs", input.vfioHostdevs());
        m.put("nvmeDisks", input.nvmeDisks());
        m.put("vdpaNets", input.vdpaNets());
        m.put("vhostVdpaDisks", input.vhostVdpaSources());
        m.put("iommus", input.iommus());
        m.put("arch", input.arch());
        m.put("virtType", input.virtType());
        m.put("phbs", input.phbs());
        m.put("nvlink2", input.nvlink2());
        m.put("libvirtVersion", libvirtVersion.toString());
        m.put("rules", rules.label());
        m.put("source", input.source());
        m.put("terms", terms);
        return m;
    }
}
