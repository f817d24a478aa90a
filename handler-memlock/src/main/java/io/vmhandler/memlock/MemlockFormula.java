package io.vmhandler.memlock;

import io.vmhandler.memlock.MemlockResult.Branch;
import java.util.ArrayList;
import java.util.List;

/**
 * libvirt's {@code qemuDomainGetMemLockLimitBytes} (src/qemu/qemu_domain.c), for each of its forms
 * ({@link MemlockRules}). The branches are tried in libvirt's order: hard_limit, locked, PPC64 with
 * KVM, then the device factor. All arithmetic is in KiB and integer, as in libvirt; the result is
 * {@code memKB << 10} bytes. See docs/memlock.md §1 and §7.1 for the source lines.
 *
 * <p>Stateless and thread-safe; never blocks.
 */
public final class MemlockFormula {
    /** VIR_DOMAIN_MEMORY_PARAM_UNLIMITED = INT64_MAX >> 10 (include/libvirt/libvirt-domain.h). */
    public static final long UNLIMITED_KIB = 9007199254740991L;
    /** The "+ 1 GiB" of the device branch: MMIO space reserved on x86 (libvir-list 2015-11 msg00329). */
    static final long ONE_GIB_KIB = 1024 * 1024;
    /** getPPC64MemLockLimitBytes: 4 MiB of 32-bit DMA window TCEs per PHB. */
    static final long PPC64_TCE_PER_PHB_KIB = 4096;
    /** getPPC64MemLockLimitBytes: 8 MiB of TCE table index and second-level overheads. */
    static final long PPC64_EXTRA_KIB = 8192;
    /** getPPC64MemLockLimitBytes: pre-DDW VFIO DMA window, 2 GiB per PHB. */
    static final long PPC64_PREDDW_PER_PHB_KIB = 2 * 1024 * 1024;
    /** getPPC64MemLockLimitBytes NVLink2: 128 TiB of window / 512 per PHB = 128 * 2^30 / 512 KiB. */
    static final long PPC64_NVLINK2_PER_PHB_KIB = 128 * (1L << 30) / 512;

    public MemlockResult compute(MemlockInput in, LibvirtVersion version) {
        MemlockRules rules = MemlockRules.of(version);
        List<String> terms = new ArrayList<>(in.derivation());
        terms.add("libvirt " + version + " uses the " + rules.label() + " rules");

        if (in.hardLimitKiB().isPresent()) {
            long kib = in.hardLimitKiB().getAsLong();
            terms.add("branch hard_limit: <memtune><hard_limit> = " + kib + " KiB wins over locked memory and devices");
            return done(in, version, rules, Branch.HARD_LIMIT, 0, kib, terms);
        }
        if (in.locked()) {
            terms.add("branch locked: <memoryBacking><locked/> and no hard_limit: unlimited"
                    + " (VIR_DOMAIN_MEMORY_PARAM_UNLIMITED, applied as RLIM_INFINITY)");
            return new MemlockResult(MemlockResult.UNLIMITED, true, Branch.LOCKED, version, rules, 0, in, terms);
        }
        if (in.isPpc64() && in.isKvm()) {
            return ppc64(in, version, rules, terms);
        }
        if (in.isPpc64()) {
            terms.add("ppc64 with virt type " + in.virtType() + " (not kvm) skips the PPC64 branch");
        }
        return devices(in, version, rules, terms);
    }

    private static MemlockResult devices(MemlockInput in, LibvirtVersion version, MemlockRules rules,
            List<String> terms) {
        int nvfio = in.vfioHostdevs();
        int nnvme = in.nvmeDisks();
        int nvdpa = in.vdpaNets();
        String viommu = in.hasViommu() ? "vIOMMU (" + in.iommus() + " iommu)" : "no vIOMMU";
        if (in.vhostVdpaSources() > 0) {
            if (rules.countsVhostVdpaDisks()) {
                nvdpa += in.vhostVdpaSources();
            } else {
                terms.add("vhostvdpa disk sources " + in.vhostVdpaSources() + " are not counted before libvirt 9.8");
            }
        }
        String counts = "nvfio " + nvfio + " (PCI/mdev hostdevs), nnvme " + nnvme + ", nvdpa " + nvdpa + " (vdpa nets "
                + in.vdpaNets() + (rules.countsVhostVdpaDisks() ? " + vhostvdpa disk sources " + in.vhostVdpaSources() : "")
                + "), " + viommu;
        if (nvfio + nnvme + nvdpa == 0) {
            terms.add("branch none: " + counts + ": libvirt sets no limit (0), the process keeps what it inherited");
            return done(in, version, rules, Branch.NONE, 0, 0, terms);
        }
        int factor;
        if (!rules.perDeviceFactor()) {
            factor = 1;
            terms.add("branch devices: " + counts + "; before 8.7 there is no per-device factor: factor 1");
        } else if (!rules.nvmeSeparate()) {
            int vfioLike = nvfio + nnvme;
            int vfioTerm = vfioLike == 0 ? 0 : in.hasViommu() ? vfioLike : 1;
            factor = nvdpa + vfioTerm;
            terms.add("branch devices: " + counts + "; before 9.3 NVMe disks count as VFIO devices: nvfio' = " + nvfio
                    + " + " + nnvme + " = " + vfioLike);
            terms.add("factor = nvdpa " + nvdpa + " + " + vfioTerm(vfioLike, in) + " = " + factor);
        } else {
            int vfioTerm = nvfio == 0 ? 0 : in.hasViommu() ? nvfio : 1;
            factor = nvdpa + nnvme + vfioTerm;
            terms.add("branch devices: " + counts);
            terms.add("factor = nvdpa " + nvdpa + " + nnvme " + nnvme + " + " + vfioTerm(nvfio, in) + " = " + factor);
        }
        long memKiB = checked(in, () -> Math.addExact(Math.multiplyExact(factor, in.totalMemoryKiB()), ONE_GIB_KIB));
        terms.add("memKiB = factor " + factor + " x totalMemoryKiB " + in.totalMemoryKiB() + " + 1 GiB 1048576 = "
                + memKiB);
        return done(in, version, rules, Branch.DEVICES, factor, memKiB, terms);
    }

    private static String vfioTerm(int n, MemlockInput in) {
        if (n == 0) {
            return "VFIO 0";
        }
        return in.hasViommu() ? "VFIO " + n + " (vIOMMU: one copy per device)"
                : "VFIO 1 (no vIOMMU: all " + n + " share one container)";
    }

    private static MemlockResult ppc64(MemlockInput in, LibvirtVersion version, MemlockRules rules, List<String> terms) {
        long memory = in.totalMemoryKiB();
        long maxMemory = in.maxMemoryKiB() != 0 ? in.maxMemoryKiB() : memory;
        long phbs = in.phbs();
        terms.add("branch ppc64: " + in.arch() + " with KVM: PHBs " + phbs + ", memory " + memory + " KiB, maxMemory "
                + maxMemory + " KiB" + (in.maxMemoryKiB() == 0 ? " (no <maxMemory>: = memory)" : ""));
        long base = maxMemory / 128 + PPC64_TCE_PER_PHB_KIB * phbs + PPC64_EXTRA_KIB;
        terms.add("base = maxMemory/128 " + maxMemory / 128 + " + 4096 x PHBs " + phbs + " + 8192 = " + base + " KiB");
        long passthrough;
        boolean needsVfio = in.vfioHostdevs() > 0 || in.nvmeDisks() > 0 || in.vdpaNets() > 0;
        if (in.nvlink2()) {
            passthrough = maxMemory + PPC64_NVLINK2_PER_PHB_KIB * phbs + PPC64_EXTRA_KIB;
            terms.add("passthrough (NVLink2 bridge hostdev) = maxMemory " + maxMemory + " + 268435456 x PHBs " + phbs
                    + " + 8192 = " + passthrough + " KiB");
        } else if (needsVfio) {
            long preDdw = PPC64_PREDDW_PER_PHB_KIB * phbs;
            long ddw = memory + memory / 512 * phbs + PPC64_EXTRA_KIB;
            passthrough = Math.max(preDdw, ddw);
            terms.add("passthrough (PCI/mdev hostdev, NVMe disk or vDPA net) = max(2097152 x PHBs " + phbs + " = " + preDdw
                    + ", memory " + memory + " + memory/512 " + memory / 512 + " x PHBs " + phbs + " + 8192 = " + ddw
                    + ") = " + passthrough + " KiB");
        } else {
            passthrough = 0;
            terms.add("passthrough = 0 (no PCI/mdev hostdev, NVMe disk or vDPA net)");
        }
        long memKiB = base + passthrough;
        terms.add("memKiB = base " + base + " + passthrough " + passthrough + " = " + memKiB);
        return done(in, version, rules, Branch.PPC64, 0, memKiB, terms);
    }

    private static MemlockResult done(MemlockInput in, LibvirtVersion version, MemlockRules rules, Branch branch,
            int factor, long memKiB, List<String> terms) {
        if (memKiB >= UNLIMITED_KIB) {
            throw new IllegalArgumentException(in.source() + ": the computed limit " + memKiB
                    + " KiB is beyond the largest libvirt can express (" + (UNLIMITED_KIB - 1) + " KiB)");
        }
        long bytes = memKiB << 10;
        terms.add("bytes = " + memKiB + " KiB x 1024 = " + bytes);
        return new MemlockResult(bytes, false, branch, version, rules, factor, in, terms);
    }

    private interface LongOp {
        long get();
    }

    private static long checked(MemlockInput in, LongOp op) {
        try {
            return op.get();
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(in.source() + ": the computed limit overflows 64 bits; the memory or"
                    + " device counts are absurd");
        }
    }
}
