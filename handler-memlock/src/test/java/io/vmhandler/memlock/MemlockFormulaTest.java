package io.vmhandler.memlock;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vmhandler.memlock.MemlockResult.Branch;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Every branch of qemuDomainGetMemLockLimitBytes and every difference between its four forms, with
 * numbers derived by hand from docs/memlock.md §1 and §7.1 (all sizes in KiB; 1 GiB = 1048576 KiB; the result
 * is KiB x 1024 bytes). Where libvirt's own tests/qemumemlocktest.c has the same case, its expected
 * value is named.
 */
class MemlockFormulaTest {
    static final long GIB = 1048576;
    static final LibvirtVersion V8_6 = new LibvirtVersion(8, 6, 0);
    static final LibvirtVersion V9_0 = new LibvirtVersion(9, 0, 0);
    static final LibvirtVersion V9_3 = new LibvirtVersion(9, 3, 0);
    static final LibvirtVersion V9_8 = new LibvirtVersion(9, 8, 0);
    static final LibvirtVersion V12_5 = new LibvirtVersion(12, 5, 0);
    static final List<LibvirtVersion> ALL = List.of(V8_6, V9_0, V9_3, V9_8, V12_5);

    private final MemlockFormula formula = new MemlockFormula();

    static MemlockInput.Builder x86(long totalKiB) {
        return MemlockInput.builder("test").arch("x86_64").virtType("kvm").totalMemoryKiB(totalKiB);
    }

    static MemlockInput.Builder pseries(long totalKiB, int phbs) {
        return MemlockInput.builder("test").arch("ppc64le").virtType("kvm").totalMemoryKiB(totalKiB).phbs(phbs);
    }

    /** Expected bytes per version, in the order of {@link #ALL}. */
    private void expect(MemlockInput in, Branch branch, long v86, long v90, long v93, long v98) {
        long[] want = {v86, v90, v93, v98, v98};
        for (int i = 0; i < ALL.size(); i++) {
            MemlockResult r = formula.compute(in, ALL.get(i));
            assertThat(r.bytes()).as("libvirt %s", ALL.get(i)).isEqualTo(want[i]);
            assertThat(r.branch()).as("libvirt %s", ALL.get(i)).isEqualTo(branch);
            assertThat(r.unlimited()).isFalse();
            assertThat(r.terms()).last().asString().isEqualTo("bytes = " + (want[i] >> 10) + " KiB x 1024 = " + want[i]);
        }
    }

    private void expectAll(MemlockInput in, Branch branch, long bytes) {
        expect(in, branch, bytes, bytes, bytes, bytes);
    }

    // ---- hard_limit -------------------------------------------------------------------------

    @Test
    void hardLimit2GiB_winsOverLockedAndDevicesAndVIOMMU_2097152x1024_2147483648() {
        // hard_limit 2097152 KiB; the devices alone would ask 3 x 4 GiB + 1 GiB with the vIOMMU
        MemlockInput in = x86(4 * GIB).hardLimitKiB(2 * GIB).locked(true).vfioHostdevs(3).iommus(1).nvmeDisks(1).build();
        expectAll(in, Branch.HARD_LIMIT, 2147483648L); // qemumemlocktest pc-hardlimit+locked+hostdev
    }

    @Test
    void hardLimitZeroIsSet_soTheLimitIs0_notUnlimited() {
        // virMemoryLimitIsSet(0) is true: memKB = 0, libvirt then sets nothing
        MemlockResult r = formula.compute(x86(GIB).hardLimitKiB(0).locked(true).vfioHostdevs(1).build(), V9_8);
        assertThat(r.bytes()).isZero();
        assertThat(r.branch()).isEqualTo(Branch.HARD_LIMIT);
        assertThat(r.plain()).isEqualTo("0");
    }

    @Test
    void hardLimitWinsOnPpc64Too_2097152x1024() {
        expectAll(pseries(GIB, 1).hardLimitKiB(2 * GIB).vfioHostdevs(1).build(), Branch.HARD_LIMIT, 2147483648L);
    }

    // ---- locked -----------------------------------------------------------------------------

    @Test
    void lockedWithoutHardLimitIsUnlimited_evenWithHostdevs_andOnPpc64() {
        for (MemlockInput in : List.of(x86(GIB).locked(true).vfioHostdevs(2).build(),
                pseries(GIB, 1).locked(true).build())) {
            for (LibvirtVersion v : ALL) {
                MemlockResult r = formula.compute(in, v);
                assertThat(r.unlimited()).isTrue();
                assertThat(r.branch()).isEqualTo(Branch.LOCKED);
                assertThat(r.bytes()).isEqualTo(MemlockResult.UNLIMITED);
                assertThat(r.plain()).isEqualTo("unlimited");
                assertThat(r.toMap()).containsEntry("unlimited", true).containsEntry("bytes", null);
            }
        }
    }

    // ---- no devices ---------------------------------------------------------------------------

    @Test
    void noDevices_isBranchNone_0_libvirtSetsNothing() {
        expectAll(x86(4 * GIB).build(), Branch.NONE, 0); // qemumemlocktest pc-kvm
        expectAll(x86(4 * GIB).virtType("qemu").build(), Branch.NONE, 0); // pc-tcg
        // USB hostdevs and a vIOMMU alone do not count either
        expectAll(x86(4 * GIB).iommus(1).build(), Branch.NONE, 0);
    }

    // ---- the device factor --------------------------------------------------------------------

    @Test
    void onePciHostdev_4GiB_is_1x4194304plus1048576_5242880KiB_5368709120() {
        expectAll(x86(4 * GIB).vfioHostdevs(1).build(), Branch.DEVICES, 5368709120L);
    }

    @Test
    void oneHostdev_1GiB_is_1048576plus1048576_2147483648() {
        expectAll(x86(GIB).vfioHostdevs(1).build(), Branch.DEVICES, 2147483648L); // qemumemlocktest pc-hostdev
    }

    @Test
    void threeHostdevsWithoutVIOMMU_shareOneContainer_factor1_5368709120() {
        // no vIOMMU: 3 hostdevs add 1 in total: 1 x 4194304 + 1048576 = 5242880 KiB
        expectAll(x86(4 * GIB).vfioHostdevs(3).build(), Branch.DEVICES, 5368709120L);
        assertThat(formula.compute(x86(4 * GIB).vfioHostdevs(3).build(), V9_8).factor()).isEqualTo(1);
    }

    @Test
    void threeHostdevsWithVIOMMU_factor3_3x4194304plus1048576_13631488KiB_butNoFactorBefore8_7() {
        // >= 8.7: 3 x 4194304 + 1048576 = 13631488 KiB = 13958643712 B; <= 8.6: 4194304 + 1048576
        MemlockInput in = x86(4 * GIB).vfioHostdevs(3).iommus(1).build();
        expect(in, Branch.DEVICES, 5368709120L, 13958643712L, 13958643712L, 13958643712L);
        assertThat(formula.compute(in, V8_6).factor()).isEqualTo(1);
        assertThat(formula.compute(in, V9_0).factor()).isEqualTo(3);
    }

    @Test
    void tcgX86WithHostdev_usesTheDeviceBranch_2147483648() {
        expectAll(x86(GIB).virtType("qemu").vfioHostdevs(1).build(), Branch.DEVICES, 2147483648L);
    }

    // ---- NVMe: counted with VFIO in 8.7-9.2, separately from 9.3 ------------------------------

    @Test
    void hostdevPlusNvme_1GiB_factor1Before9_3_factor2From9_3() {
        // <= 8.6: 1048576 + 1048576 = 2097152 KiB
        // 8.7-9.2: nvfio' = 1 hostdev + 1 NVMe = 2, no vIOMMU -> factor 1 -> 2097152 KiB
        // >= 9.3: nnvme 1 + VFIO 1 = factor 2 -> 2 x 1048576 + 1048576 = 3145728 KiB = 3221225472 B
        //         (qemumemlocktest pc-hostdev-nvme in 11.x)
        expect(x86(GIB).vfioHostdevs(1).nvmeDisks(1).build(), Branch.DEVICES, 2147483648L, 2147483648L,
                3221225472L, 3221225472L);
    }

    @Test
    void twoNvmeDisksOnly_2GiB_3GiBBefore9_3_then2x2097152plus1048576() {
        // <= 9.2: 2097152 + 1048576 = 3145728 KiB; >= 9.3: 2 x 2097152 + 1048576 = 5242880 KiB
        expect(x86(2 * GIB).nvmeDisks(2).build(), Branch.DEVICES, 3221225472L, 3221225472L, 5368709120L, 5368709120L);
    }

    @Test
    void nvmeWithVIOMMU_8_7CountsNvmeAsVfioCopies_sameTotalAs9_3() {
        // 2 hostdevs + 1 NVMe + vIOMMU, 1 GiB. 8.7: nvfio' = 3 -> factor 3; 9.3: nnvme 1 + nvfio 2 = 3
        // -> 3 x 1048576 + 1048576 = 4194304 KiB = 4294967296 B; <= 8.6: 2097152 KiB
        expect(x86(GIB).vfioHostdevs(2).nvmeDisks(1).iommus(1).build(), Branch.DEVICES, 2147483648L, 4294967296L,
                4294967296L, 4294967296L);
    }

    // ---- vDPA nets and vhostvdpa disks ---------------------------------------------------------

    @Test
    void twoVdpaNets_1GiB_eachAddsACopyFrom8_7_2x1048576plus1048576() {
        // <= 8.6: 2097152 KiB; >= 8.7: factor 2 -> 3145728 KiB = 3221225472 B, vIOMMU or not
        expect(x86(GIB).vdpaNets(2).build(), Branch.DEVICES, 2147483648L, 3221225472L, 3221225472L, 3221225472L);
        expect(x86(GIB).vdpaNets(2).iommus(1).build(), Branch.DEVICES, 2147483648L, 3221225472L, 3221225472L,
                3221225472L);
    }

    @Test
    void vdpaNetPlusTwoHostdevsNoVIOMMU_factor1plus1() {
        // >= 8.7: nvdpa 1 + VFIO 1 = 2 -> 3145728 KiB
        expect(x86(GIB).vdpaNets(1).vfioHostdevs(2).build(), Branch.DEVICES, 2147483648L, 3221225472L, 3221225472L,
                3221225472L);
    }

    @Test
    void twoVhostVdpaDiskSources_notCountedBefore9_8_thenFactor2() {
        // < 9.8: nothing counts -> 0; >= 9.8: nvdpa 2 -> 2 x 1048576 + 1048576 = 3145728 KiB
        MemlockInput in = x86(GIB).vhostVdpaSources(2).build();
        for (LibvirtVersion v : List.of(V8_6, V9_0, V9_3)) {
            assertThat(formula.compute(in, v).branch()).isEqualTo(Branch.NONE);
            assertThat(formula.compute(in, v).bytes()).isZero();
        }
        for (LibvirtVersion v : List.of(V9_8, V12_5)) {
            assertThat(formula.compute(in, v).branch()).isEqualTo(Branch.DEVICES);
            assertThat(formula.compute(in, v).bytes()).isEqualTo(3221225472L);
        }
        assertThat(formula.compute(x86(GIB).vhostVdpaSources(2).build(), V9_3).terms())
                .anyMatch(t -> t.contains("not counted before libvirt 9.8"));
    }

    @Test
    void vhostVdpaPlusHostdev_factor1Before9_8_factor3From9_8() {
        // < 9.8: VFIO 1 -> 2097152 KiB; >= 9.8: nvdpa 2 + VFIO 1 = 3 -> 4194304 KiB = 4294967296 B
        MemlockInput in = x86(GIB).vhostVdpaSources(2).vfioHostdevs(1).build();
        for (LibvirtVersion v : List.of(V8_6, V9_0, V9_3)) {
            assertThat(formula.compute(in, v).bytes()).isEqualTo(2147483648L);
        }
        assertThat(formula.compute(in, V9_8).bytes()).isEqualTo(4294967296L);
        assertThat(formula.compute(in, V12_5).bytes()).isEqualTo(4294967296L);
    }

    // ---- PPC64 -----------------------------------------------------------------------------

    @Test
    void pseriesKvmNoDevices_base_1048576div128_plus_4096x1_plus_8192_20480KiB_20971520() {
        // qemumemlocktest pseries-kvm: 20971520
        expectAll(pseries(GIB, 1).build(), Branch.PPC64, 20971520L);
    }

    @Test
    void pseriesHostdevTwoPhbs_base24576_plus_max4194304_1060864_4320133120() {
        // base = 8192 + 4096 x 2 + 8192 = 24576; passthrough = max(2097152 x 2 = 4194304,
        // 1048576 + 2048 x 2 + 8192 = 1060864) = 4194304; 4218880 KiB (qemumemlocktest pseries-hostdev)
        expectAll(pseries(GIB, 2).vfioHostdevs(1).build(), Branch.PPC64, 4320133120L);
    }

    @Test
    void pseriesHostdev4GiBOnePhb_ddwTermWins_45056plus4210688_4357881856() {
        // base = 4194304/128 32768 + 4096 + 8192 = 45056; passthrough = max(2097152,
        // 4194304 + 8192 x 1 + 8192 = 4210688) = 4210688; 4255744 KiB
        expectAll(pseries(4 * GIB, 1).vfioHostdevs(1).build(), Branch.PPC64, 4357881856L);
    }

    @Test
    void pseriesMaxMemory8GiB_baseUsesMaxMemory_passthroughUsesMemory() {
        // base = 8388608/128 65536 + 4096 + 8192 = 77824 KiB = 79691776 B without devices;
        // with a hostdev + 4210688 (memory 4 GiB, not maxMemory) = 4288512 KiB = 4391436288 B
        expectAll(pseries(4 * GIB, 1).maxMemoryKiB(8 * GIB).build(), Branch.PPC64, 79691776L);
        expectAll(pseries(4 * GIB, 1).maxMemoryKiB(8 * GIB).vfioHostdevs(1).build(), Branch.PPC64, 4391436288L);
    }

    @Test
    void pseriesNvlink2_passthrough_maxMemory_plus_268435456xPhbs_plus_8192() {
        // base 20480; passthrough = 1048576 + 268435456 x 1 + 8192 = 269492224; 269512704 KiB
        expectAll(pseries(GIB, 1).vfioHostdevs(1).nvlink2(true).build(), Branch.PPC64, 275981008896L);
    }

    @Test
    void pseriesIgnoresTheFactorAndTheVIOMMU_3HostdevsFourPhbs_8623489024() {
        // base = 8192 + 4096 x 4 + 8192 = 32768; passthrough = max(2097152 x 4 = 8388608,
        // 1048576 + 2048 x 4 + 8192 = 1064960) = 8388608; 8421376 KiB
        expectAll(pseries(GIB, 4).vfioHostdevs(3).iommus(1).build(), Branch.PPC64, 8623489024L);
    }

    @Test
    void pseriesCountsNvmeAndVdpaNetsButNotVhostVdpaDisks() {
        // NVMe or vDPA net: passthrough max(2097152, 1060864)=2097152 -> 20480 + 2097152 = 2117632 KiB
        expectAll(pseries(GIB, 1).nvmeDisks(1).build(), Branch.PPC64, 2168455168L);
        expectAll(pseries(GIB, 1).vdpaNets(1).build(), Branch.PPC64, 2168455168L);
        // vhostvdpa disks are not looked at on PPC64: base only
        expectAll(pseries(GIB, 1).vhostVdpaSources(3).build(), Branch.PPC64, 20971520L);
    }

    @Test
    void ppc64TcgSkipsThePpc64Branch() {
        expectAll(pseries(GIB, 1).virtType("qemu").build(), Branch.NONE, 0); // qemumemlocktest pseries-tcg
        expectAll(pseries(GIB, 1).virtType("qemu").vfioHostdevs(1).build(), Branch.DEVICES, 2147483648L);
        expectAll(pseries(GIB, 1).arch("ppc64").build(), Branch.PPC64, 20971520L); // big-endian ppc64 too
    }

    // ---- output and bounds ------------------------------------------------------------------

    @Test
    void jsonMapCarriesBranchFactorTotalAndCounts() {
        MemlockResult r = formula.compute(x86(4 * GIB).vfioHostdevs(2).nvmeDisks(1).iommus(1).build(), V9_8);
        Map<String, Object> m = r.toMap();
        // factor = nnvme 1 + VFIO 2 (vIOMMU) = 3: 3 x 4194304 + 1048576 = 13631488 KiB
        assertThat(m).containsEntry("bytes", 13958643712L).containsEntry("branch", "devices")
                .containsEntry("factor", 3).containsEntry("totalMemoryKiB", 4194304L).containsEntry("vfioHostdevs", 2)
                .containsEntry("nvmeDisks", 1).containsEntry("iommus", 1).containsEntry("rules", ">=9.8")
                .containsEntry("libvirtVersion", "9.8.0");
        assertThat(r.terms()).contains("factor = nvdpa 0 + nnvme 1 + VFIO 2 (vIOMMU: one copy per device) = 3",
                "memKiB = factor 3 x totalMemoryKiB 4194304 + 1 GiB 1048576 = 13631488");
    }

    @Test
    void absurdFactorTimesMemoryIsAnErrorNotAWrappedNumber() {
        MemlockInput in = x86(MemlockInput.MAX_MEMORY_KIB).vfioHostdevs(MemlockInput.MAX_DEVICES).iommus(1).build();
        assertThatThrownBy(() -> formula.compute(in, V9_8)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("beyond the largest libvirt can express");
    }

    @Test
    void inputBoundsNameTheField() {
        assertThatThrownBy(() -> x86(0).build()).hasMessageContaining("total memory must be 1..");
        assertThatThrownBy(() -> x86(MemlockInput.MAX_MEMORY_KIB + 1).build()).hasMessageContaining("4 PiB");
        assertThatThrownBy(() -> x86(GIB).vfioHostdevs(-1).build()).hasMessageContaining("PCI/mdev hostdevs must be 0..");
        assertThatThrownBy(() -> x86(GIB).maxMemoryKiB(GIB / 2).build()).hasMessageContaining("maxMemory");
        assertThatThrownBy(() -> pseries(GIB, 33).build()).hasMessageContaining("PHB count must be 1..32");
        assertThatThrownBy(() -> x86(GIB).hardLimitKiB(MemlockFormula.UNLIMITED_KIB).build())
                .hasMessageContaining("hard_limit");
    }
}
