package io.vmhandler.memlock;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.OptionalLong;

/**
 * Everything {@code qemuDomainGetMemLockLimitBytes} reads from a domain definition, already
 * counted the way libvirt counts it. Built from a domain XML ({@link DomainXmlReader}) or a VMI
 * ({@link VmiMemlockMapper}); {@link #derivation()} says how each number was obtained, so a result
 * can explain itself. Sizes are KiB, as inside libvirt.
 *
 * @param source what the input came from (a file name, a VMI key)
 * @param arch libvirt's architecture name ({@code x86_64}, {@code aarch64}, {@code ppc64le} ...)
 * @param virtType the domain type: {@code kvm}, or {@code qemu} for TCG
 * @param totalMemoryKiB {@code virDomainDefGetMemoryTotal}: {@code <memory>}, memory devices included
 * @param maxMemoryKiB {@code <maxMemory>}, 0 when absent (only PPC64 reads it)
 * @param hardLimitKiB {@code <memtune><hard_limit>} when set
 * @param locked {@code <memoryBacking><locked/>}
 * @param vfioHostdevs subsystem hostdevs of type PCI or mdev, hostdev interfaces included
 * @param nvmeDisks disks whose source chain has an NVMe element (each disk once)
 * @param vdpaNets interfaces whose actual type is vdpa
 * @param vhostVdpaSources disk source-chain elements of type vhostvdpa
 * @param iommus {@code <iommu>} devices (a vIOMMU is present when &gt; 0)
 * @param phbs PPC64 PCI host bridges libvirt will have (the default one included)
 * @param nvlink2 a PCI hostdev is an NVLink2 bridge on the host (PPC64 only)
 * @param derivation how the numbers above were obtained, one line each
 */
public record MemlockInput(String source, String arch, String virtType, long totalMemoryKiB, long maxMemoryKiB,
        OptionalLong hardLimitKiB, boolean locked, int vfioHostdevs, int nvmeDisks, int vdpaNets,
        int vhostVdpaSources, int iommus, int phbs, boolean nvlink2, List<String> derivation) {

    /**
     * 4 PiB: no 64-bit architecture QEMU runs guests on addresses more than 2^52 bytes of physical
     * memory (x86-64 MAXPHYADDR is at most 52 bits; Arm's LPA extension is 52 bits), so a larger
     * guest is a typo, not a configuration.
     */
    public static final long MAX_MEMORY_KIB = 1L << 42;
    /** More devices of one kind than a PCI hierarchy can hold (256 buses x 32 slots x 8 functions). */
    public static final int MAX_DEVICES = 65536;
    /** QEMU supports 32 PHBs per pSeries guest (libvirt src/qemu/qemu_domain_address.c). */
    public static final int MAX_PHBS = 32;

    public MemlockInput {
        derivation = List.copyOf(derivation);
        arch = arch.toLowerCase(Locale.ROOT);
        virtType = virtType.toLowerCase(Locale.ROOT);
        if (totalMemoryKiB <= 0 || totalMemoryKiB > MAX_MEMORY_KIB) {
            throw new IllegalArgumentException(source + ": total memory must be 1.." + MAX_MEMORY_KIB + " KiB (4 PiB), got "
                    + totalMemoryKiB + " KiB");
        }
        if (maxMemoryKiB < 0 || maxMemoryKiB > MAX_MEMORY_KIB) {
            throw new IllegalArgumentException(source + ": maxMemory must be 0.." + MAX_MEMORY_KIB + " KiB, got "
                    + maxMemoryKiB + " KiB");
        }
        if (maxMemoryKiB != 0 && maxMemoryKiB < totalMemoryKiB) {
            // libvirt refuses this too (domain_postparse.c: "maximum memory size must be equal or greater")
            throw new IllegalArgumentException(source + ": maxMemory " + maxMemoryKiB
                    + " KiB must be equal to or greater than the total memory " + totalMemoryKiB + " KiB");
        }
        if (hardLimitKiB.isPresent()
                && (hardLimitKiB.getAsLong() < 0 || hardLimitKiB.getAsLong() >= MemlockFormula.UNLIMITED_KIB)) {
            throw new IllegalArgumentException(source + ": hard_limit must be 0.." + (MemlockFormula.UNLIMITED_KIB - 1)
                    + " KiB when set, got " + hardLimitKiB.getAsLong());
        }
        count(source, "PCI/mdev hostdevs", vfioHostdevs);
        count(source, "NVMe disks", nvmeDisks);
        count(source, "vDPA interfaces", vdpaNets);
        count(source, "vhostvdpa disk sources", vhostVdpaSources);
        count(source, "iommu devices", iommus);
        if (phbs < 1 || phbs > MAX_PHBS) {
            throw new IllegalArgumentException(source + ": PHB count must be 1.." + MAX_PHBS + ", got " + phbs);
        }
    }

    private static void count(String source, String what, int n) {
        if (n < 0 || n > MAX_DEVICES) {
            throw new IllegalArgumentException(source + ": " + what + " must be 0.." + MAX_DEVICES + ", got " + n);
        }
    }

    /** libvirt's ARCH_IS_PPC64: ppc64 or ppc64le. */
    public boolean isPpc64() {
        return arch.equals("ppc64") || arch.equals("ppc64le");
    }

    public boolean isKvm() {
        return virtType.equals("kvm");
    }

    public boolean hasViommu() {
        return iommus > 0;
    }

    public static Builder builder(String source) {
        return new Builder(source);
    }

    /** Mutable builder; the record validates on {@link #build()}. Not thread-safe. */
    public static final class Builder {
        private final String source;
        private String arch = "x86_64";
        private String virtType = "kvm";
        private long totalMemoryKiB;
        private long maxMemoryKiB;
        private OptionalLong hardLimitKiB = OptionalLong.empty();
        private boolean locked;
        private int vfioHostdevs;
        private int nvmeDisks;
        private int vdpaNets;
        private int vhostVdpaSources;
        private int iommus;
        private int phbs = 1;
        private boolean nvlink2;
        private final List<String> derivation = new ArrayList<>();

        private Builder(String source) {
            this.source = source;
        }

        public Builder arch(String v) {
            arch = v;
            return this;
        }

        public Builder virtType(String v) {
            virtType = v;
            return this;
        }

        public Builder totalMemoryKiB(long v) {
            totalMemoryKiB = v;
            return this;
        }

        public Builder maxMemoryKiB(long v) {
            maxMemoryKiB = v;
            return this;
        }

        public Builder hardLimitKiB(long v) {
            hardLimitKiB = OptionalLong.of(v);
            return this;
        }

        public Builder locked(boolean v) {
            locked = v;
            return this;
        }

        public Builder vfioHostdevs(int v) {
            vfioHostdevs = v;
            return this;
        }

        public Builder nvmeDisks(int v) {
            nvmeDisks = v;
            return this;
        }

        public Builder vdpaNets(int v) {
            vdpaNets = v;
            return this;
        }

        public Builder vhostVdpaSources(int v) {
            vhostVdpaSources = v;
            return this;
        }

        public Builder iommus(int v) {
            iommus = v;
            return this;
        }

        public Builder phbs(int v) {
            phbs = v;
            return this;
        }

        public Builder nvlink2(boolean v) {
            nvlink2 = v;
            return this;
        }

        public Builder note(String line) {
            derivation.add(line);
            return this;
        }

        public MemlockInput build() {
            return new MemlockInput(source, arch, virtType, totalMemoryKiB, maxMemoryKiB, hardLimitKiB, locked,
                    vfioHostdevs, nvmeDisks, vdpaNets, vhostVdpaSources, iommus, phbs, nvlink2, derivation);
        }
    }
}
