package io.vmhandler.grpc;

import java.util.List;
import java.util.Objects;

/**
 * What SetMemoryLock computed and applied (see docs/memlock.md for libvirt's formula).
 *
 * @param pid the process the limit was applied to, as named in the request (caller's pid namespace)
 * @param applied false when the formula yields "no limit" ({@link Branch#NONE}) and nothing was changed
 * @param unlimited true when the limit is RLIM_INFINITY ({@code bytes} is then 0)
 * @param bytes the limit set as soft and hard limit; 0 when unlimited or not applied
 * @param branch the formula branch that produced the value
 * @param terms the formula's inputs and intermediate values, in evaluation order
 * @param expression the arithmetic in words, e.g. {@code "(1 x 2097152 KiB + 1048576 KiB) x 1024"}
 * @param libvirtVersion the libvirt version whose formula was used ("MAJOR.MINOR.MICRO")
 */
public record MemlockResult(int pid, boolean applied, boolean unlimited, long bytes, Branch branch, List<Term> terms,
                            String expression, String libvirtVersion) {
    public MemlockResult {
        Objects.requireNonNull(branch, "branch");
        terms = List.copyOf(terms);
        Objects.requireNonNull(expression, "expression");
        Objects.requireNonNull(libvirtVersion, "libvirtVersion");
    }

    /** Branches of libvirt's qemuDomainGetMemLockLimitBytes, in the order libvirt tries them. */
    public enum Branch {
        /** {@code <memtune><hard_limit>} is set. */
        HARD_LIMIT,
        /** {@code <memoryBacking><locked/>}: unlimited. */
        LOCKED,
        /** ppc64 KVM guest: the PPC64 formula. */
        PPC64,
        /** VFIO / NVMe / vDPA devices: factor x guest memory + 1 GiB. */
        DEVICES,
        /** Nothing needs locked memory: libvirt sets no limit. */
        NONE
    }

    /**
     * One named input or intermediate value.
     *
     * @param value unsigned; the unit says how to read it
     * @param unit "KiB", "bytes", "count" or "bool"
     */
    public record Term(String name, long value, String unit) {
        public Term {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(unit, "unit");
        }
    }
}
