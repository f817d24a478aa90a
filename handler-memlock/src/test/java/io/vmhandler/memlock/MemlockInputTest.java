package io.vmhandler.memlock;

import static io.vmhandler.memlock.MemlockFormulaTest.GIB;
import static io.vmhandler.memlock.MemlockFormulaTest.V9_8;
import static io.vmhandler.memlock.MemlockFormulaTest.x86;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The input's bounds, each at its edge, and what the builder and the JSON form carry. */
class MemlockInputTest {
    private static final long MAX = MemlockInput.MAX_MEMORY_KIB;

    @Test
    void maxMemoryBounds_0toMax_andNotBelowTheTotal() {
        assertThat(x86(GIB).maxMemoryKiB(MAX).build().maxMemoryKiB()).isEqualTo(MAX);
        assertThat(x86(MAX).build().totalMemoryKiB()).isEqualTo(MAX);
        assertThatThrownBy(() -> x86(GIB).maxMemoryKiB(MAX + 1).build())
                .hasMessageContaining("maxMemory must be 0..4398046511104 KiB, got 4398046511105 KiB");
        assertThatThrownBy(() -> x86(GIB).maxMemoryKiB(-1).build()).hasMessageContaining("maxMemory must be 0..");
        // libvirt accepts <maxMemory> equal to <memory> (domain_postparse.c refuses only "less than")
        assertThat(x86(GIB).maxMemoryKiB(GIB).build().maxMemoryKiB()).isEqualTo(GIB);
    }

    @Test
    void hardLimitBounds_0toUnlimitedMinus1() {
        assertThat(x86(GIB).hardLimitKiB(MemlockFormula.UNLIMITED_KIB - 1).build().hardLimitKiB())
                .hasValue(9007199254740990L);
        assertThatThrownBy(() -> x86(GIB).hardLimitKiB(-1).build()).hasMessageContaining("hard_limit must be 0..");
    }

    @ParameterizedTest
    @CsvSource({"vfio, PCI/mdev hostdevs", "nvme, NVMe disks", "vdpa, vDPA interfaces",
            "vhostvdpa, vhostvdpa disk sources", "iommu, iommu devices"})
    void everyDeviceCountIs0to65536NamingItsField(String kind, String field) {
        assertThat(count(kind, MemlockInput.MAX_DEVICES)).isNotNull();
        assertThatThrownBy(() -> count(kind, -1)).hasMessageContaining(field + " must be 0..65536, got -1");
        assertThatThrownBy(() -> count(kind, MemlockInput.MAX_DEVICES + 1))
                .hasMessageContaining(field + " must be 0..65536, got 65537");
    }

    private static MemlockInput count(String kind, int n) {
        UnaryOperator<MemlockInput.Builder> set = switch (kind) {
            case "vfio" -> b -> b.vfioHostdevs(n);
            case "nvme" -> b -> b.nvmeDisks(n);
            case "vdpa" -> b -> b.vdpaNets(n);
            case "vhostvdpa" -> b -> b.vhostVdpaSources(n);
            default -> b -> b.iommus(n);
        };
        return set.apply(x86(GIB)).build();
    }

    @Test
    void thirtyTwoPhbsAreAllowed() {
        assertThat(MemlockFormulaTest.pseries(GIB, MemlockInput.MAX_PHBS).build().phbs()).isEqualTo(32);
    }

    @Test
    void notesChainAndKeepTheirOrder() {
        assertThat(x86(GIB).note("first").note("second").build().derivation()).containsExactly("first", "second");
    }

    @Test
    void jsonMapCarriesTheHardLimitOrNull() {
        MemlockFormula formula = new MemlockFormula();
        assertThat(formula.compute(x86(GIB).hardLimitKiB(2 * GIB).build(), V9_8).toMap())
                .containsEntry("hardLimitKiB", 2097152L).containsEntry("bytes", 2147483648L);
        assertThat(formula.compute(x86(GIB).build(), V9_8).toMap()).containsEntry("hardLimitKiB", null);
    }
}
