package io.vmhandler.memlock;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The version's own bounds (virConnectGetLibVersion packs minor and micro into 3 digits) and its order. */
class LibvirtVersionBoundsTest {
    @Test
    void minorAndMicroGoUpTo999() {
        assertThat(new LibvirtVersion(0, 999, 999)).hasToString("0.999.999");
    }

    @ParameterizedTest
    @CsvSource({"-1, 0, 0", "0, -1, 0", "0, 0, -1", "0, 1000, 0", "0, 0, 1000"})
    void outOfRangePartsAreRefused(int major, int minor, int micro) {
        assertThatThrownBy(() -> new LibvirtVersion(major, minor, micro))
                .hasMessageContaining("is out of range (minor and micro are 0..999)");
    }

    @Test
    void missingTextNamesTheField() {
        assertThatThrownBy(() -> LibvirtVersion.parse("--libvirt-version", null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("--libvirt-version must be");
    }

    @Test
    void ordersByMajorThenMinorThenMicro() {
        List<LibvirtVersion> vs = new ArrayList<>(List.of(new LibvirtVersion(10, 0, 0), new LibvirtVersion(9, 10, 0),
                new LibvirtVersion(9, 8, 1), new LibvirtVersion(9, 8, 0), new LibvirtVersion(8, 7, 0)));
        vs.sort(null);
        assertThat(vs).extracting(LibvirtVersion::toString).containsExactly("8.7.0", "9.8.0", "9.8.1", "9.10.0", "10.0.0");
        assertThat(new LibvirtVersion(10, 0, 0).compareTo(new LibvirtVersion(9, 8, 0))).isPositive();
        assertThat(new LibvirtVersion(9, 8, 0).compareTo(new LibvirtVersion(9, 8, 1))).isNegative();
        assertThat(new LibvirtVersion(9, 8, 1).compareTo(new LibvirtVersion(9, 8, 1))).isZero();
    }
}
