package io.vmhandler.memlock;

import static io.vmhandler.memlock.MemlockFormulaTest.GIB;
import static io.vmhandler.memlock.MemlockFormulaTest.V8_6;
import static io.vmhandler.memlock.MemlockFormulaTest.V9_0;
import static io.vmhandler.memlock.MemlockFormulaTest.V9_8;
import static io.vmhandler.memlock.MemlockFormulaTest.pseries;
import static io.vmhandler.memlock.MemlockFormulaTest.x86;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/**
 * The derivation a result prints (every line, in order) and the arithmetic at the edges: PPC64 with
 * more than one PHB, and the largest limit libvirt can express. Numbers by hand from libvirt's
 * qemuDomainGetMemLockLimitBytes / getPPC64MemLockLimitBytes (docs/memlock.md §1), sizes in KiB.
 */
class MemlockFormulaTermsTest {
    private final MemlockFormula formula = new MemlockFormula();

    @Test
    void twoHostdevsNoVIOMMU_9_8_termsSayTheyShareOneContainer_1x1048576plus1048576() {
        assertThat(formula.compute(x86(GIB).vfioHostdevs(2).build(), V9_8).terms()).containsExactly(
                "libvirt 9.8.0 uses the >=9.8 rules",
                "branch devices: nvfio 2 (PCI/mdev hostdevs), nnvme 0, nvdpa 0 (vdpa nets 0 + vhostvdpa disk sources 0),"
                        + " no vIOMMU",
                "factor = nvdpa 0 + nnvme 0 + VFIO 1 (no vIOMMU: all 2 share one container) = 1",
                "memKiB = factor 1 x totalMemoryKiB 1048576 + 1 GiB 1048576 = 2097152",
                "bytes = 2097152 KiB x 1024 = 2147483648");
    }

    @Test
    void nvmePlusVdpaNetWithVIOMMU_9_0_nvmeCountsAsVfio_factor1plus1_3145728KiB() {
        // 8.7-9.2: nvfio' = 0 hostdevs + 1 NVMe = 1, vIOMMU: VFIO term 1; factor = nvdpa 1 + 1 = 2;
        // 2 x 1048576 + 1048576 = 3145728 KiB. No vhostvdpa counting and no "not counted" line for 0 sources.
        assertThat(formula.compute(x86(GIB).nvmeDisks(1).vdpaNets(1).iommus(2).build(), V9_0).terms()).containsExactly(
                "libvirt 9.0.0 uses the 8.7-9.2 rules",
                "branch devices: nvfio 0 (PCI/mdev hostdevs), nnvme 1, nvdpa 1 (vdpa nets 1), vIOMMU (2 iommu);"
                        + " before 9.3 NVMe disks count as VFIO devices: nvfio' = 0 + 1 = 1",
                "factor = nvdpa 1 + VFIO 1 (vIOMMU: one copy per device) = 2",
                "memKiB = factor 2 x totalMemoryKiB 1048576 + 1 GiB 1048576 = 3145728",
                "bytes = 3145728 KiB x 1024 = 3221225472");
    }

    @Test
    void oneHostdevPlusOneVdpaNet_isNotBranchNone_factor2From8_7() {
        // nvfio 1 + nnvme 0 + nvdpa 1 = 2 devices; >= 8.7 factor = nvdpa 1 + VFIO 1 = 2 -> 3145728 KiB
        MemlockResult r = formula.compute(x86(GIB).vfioHostdevs(1).vdpaNets(1).build(), V9_8);
        assertThat(r.bytes()).isEqualTo(3145728L * 1024);
        assertThat(r.factor()).isEqualTo(2);
    }

    @Test
    void vdpaNetOnly_termSaysVfio0() {
        // factor = nvdpa 1 + nnvme 0 + 0 (no VFIO device) = 1
        assertThat(formula.compute(x86(GIB).vdpaNets(1).build(), V9_8).terms())
                .contains("factor = nvdpa 1 + nnvme 0 + VFIO 0 = 1");
    }

    @Test
    void upTo8_6_termSaysThereIsNoFactor() {
        assertThat(formula.compute(x86(GIB).vfioHostdevs(1).build(), V8_6).terms()).contains(
                "branch devices: nvfio 1 (PCI/mdev hostdevs), nnvme 0, nvdpa 0 (vdpa nets 0), no vIOMMU;"
                        + " before 8.7 there is no per-device factor: factor 1");
    }

    @Test
    void onlyPpc64TcgSaysItSkipsThePpc64Branch() {
        assertThat(formula.compute(pseries(GIB, 1).virtType("qemu").build(), V9_8).terms())
                .contains("ppc64 with virt type qemu (not kvm) skips the PPC64 branch");
        assertThat(formula.compute(x86(GIB).vfioHostdevs(1).build(), V9_8).terms())
                .noneMatch(t -> t.contains("PPC64 branch"));
    }

    @Test
    void pseries8GiBTwoPhbsHostdev_ddwWins_81920plus8429568_8511488KiB() {
        // base = 8388608/128 65536 + 4096 x 2 + 8192 = 81920; passthrough = max(2097152 x 2 = 4194304,
        // 8388608 + 8388608/512 16384 x 2 + 8192 = 8429568) = 8429568; 8511488 KiB = 8715763712 B
        assertThat(formula.compute(pseries(8 * GIB, 2).vfioHostdevs(1).build(), V9_8).terms()).containsExactly(
                "libvirt 9.8.0 uses the >=9.8 rules",
                "branch ppc64: ppc64le with KVM: PHBs 2, memory 8388608 KiB, maxMemory 8388608 KiB"
                        + " (no <maxMemory>: = memory)",
                "base = maxMemory/128 65536 + 4096 x PHBs 2 + 8192 = 81920 KiB",
                "passthrough (PCI/mdev hostdev, NVMe disk or vDPA net) = max(2097152 x PHBs 2 = 4194304, memory 8388608"
                        + " + memory/512 16384 x PHBs 2 + 8192 = 8429568) = 8429568 KiB",
                "memKiB = base 81920 + passthrough 8429568 = 8511488",
                "bytes = 8511488 KiB x 1024 = 8715763712");
    }

    @Test
    void pseriesWithMaxMemory_termNamesBoth_andHasNoFallbackNote() {
        // base = 8388608/128 65536 + 4096 + 8192 = 77824 KiB
        assertThat(formula.compute(pseries(4 * GIB, 1).maxMemoryKiB(8 * GIB).build(), V9_8).terms()).contains(
                "branch ppc64: ppc64le with KVM: PHBs 1, memory 4194304 KiB, maxMemory 8388608 KiB",
                "base = maxMemory/128 65536 + 4096 x PHBs 1 + 8192 = 77824 KiB",
                "passthrough = 0 (no PCI/mdev hostdev, NVMe disk or vDPA net)");
    }

    @Test
    void pseriesNvlink2TwoPhbs_24576plus537927680_537952256KiB() {
        // base = 1048576/128 8192 + 4096 x 2 + 8192 = 24576; passthrough = 1048576 + 268435456 x 2 + 8192
        // = 537927680; 537952256 KiB = 550863110144 B
        MemlockResult r = formula.compute(pseries(GIB, 2).vfioHostdevs(1).nvlink2(true).build(), V9_8);
        assertThat(r.bytes()).isEqualTo(550863110144L);
        assertThat(r.terms()).contains("passthrough (NVLink2 bridge hostdev) = maxMemory 1048576 + 268435456 x PHBs 2"
                + " + 8192 = 537927680 KiB");
    }

    @Test
    void aLimitOfExactlyLibvirtsUnlimitedIsRefused_oneFactorBelowIsReturned() {
        // VIR_DOMAIN_MEMORY_PARAM_UNLIMITED 9007199254740991 KiB - 1048576 = 9007199253692415
        // = 3165 x 2845876541451 (3^2 x 5 x 211 x 948625513817): 3165 hostdevs with a vIOMMU give factor 3165
        assertThatThrownBy(() -> formula.compute(x86(2845876541451L).vfioHostdevs(3165).iommus(1).build(), V9_8))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("the computed limit 9007199254740991 KiB is beyond the largest libvirt can express");
        // 1 KiB less guest memory: 9007199254740991 - 3165 = 9007199254737826 KiB = 9223372036851533824 B
        assertThat(formula.compute(x86(2845876541450L).vfioHostdevs(3165).iommus(1).build(), V9_8).bytes())
                .isEqualTo(9223372036851533824L);
    }
}
