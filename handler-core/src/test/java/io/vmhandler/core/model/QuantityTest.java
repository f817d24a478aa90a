package io.vmhandler.core.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class QuantityTest {
    @ParameterizedTest
    @CsvSource({
        "2Gi, 2147483648", // 2 x 2^30
        "512M, 512000000", // 512 x 10^6
        "1.5G, 1500000000",
        "1.5Gi, 1610612736", // 1.5 x 1073741824
        "512Mi, 536870912",
        "1Ki, 1024",
        "3Ti, 3298534883328",
        "1Pi, 1125899906842624",
        "7Ei, 8070450532247928832", // 7 x 2^60 fits below 2^63
        "1024, 1024",
        "1e9, 1000000000",
        "1E3, 1000",
        "2.5e-1, 1", // 0.25 bytes rounds up
        "1E, 1000000000000000000", // a bare E is exa, not an exponent
        "100m, 1", // 0.1 byte, rounded up as Quantity.Value() does
        "1k, 1000",
        ".5Ki, 512",
        "+4Gi, 4294967296",
    })
    void parsesKubernetesQuantitiesToBytesRoundedUp(String text, long bytes) {
        assertThat(Quantity.parse("f", text).bytesCeil("f")).isEqualTo(bytes);
    }

    @Test
    void yamlNumbersAreQuantitiesToo() {
        assertThat(Quantity.of("f", 1073741824).bytesCeil("f")).isEqualTo(1073741824L);
        assertThat(Quantity.of("f", 4294967296L).bytesCeil("f")).isEqualTo(4294967296L);
        assertThat(Quantity.of("f", 1.5).bytesCeil("f")).isEqualTo(2);
        assertThat(Quantity.of("f", new BigInteger("1000")).bytesCeil("f")).isEqualTo(1000);
    }

    @Test
    void equalAmountsAreEqualWhateverTheSpelling() {
        assertThat(Quantity.parse("f", "1Gi")).isEqualTo(Quantity.parse("f", "1073741824"))
                .hasSameHashCodeAs(Quantity.parse("f", "1073741824"));
        assertThat(Quantity.parse("f", "1G")).isNotEqualTo(Quantity.parse("f", "1Gi"));
        assertThat(Quantity.parse("f", "1G")).isLessThan(Quantity.parse("f", "1Gi"));
        assertThat(Quantity.parse("f", "1.5G")).hasToString("1.5G");
    }

    @Test
    void unknownUnitsAreRefusedNamingFieldAndUnit() {
        for (String bad : new String[] {"2GB", "2gi", "2 Gi", "4GiB", "1KB", "10x"}) {
            assertThatThrownBy(() -> Quantity.parse("spec.domain.memory.guest", bad))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("spec.domain.memory.guest has an unknown unit")
                    .hasMessageContaining("Ki, Mi, Gi");
        }
    }

    @Test
    void negativeEmptyMalformedAndAbsurdAreRefused() {
        assertThatThrownBy(() -> Quantity.parse("q", "-1Gi")).hasMessage("q must not be negative, got '-1Gi'");
        assertThatThrownBy(() -> Quantity.parse("q", "")).hasMessageContaining("q is empty");
        assertThatThrownBy(() -> Quantity.parse("q", null)).hasMessageContaining("q is missing");
        assertThatThrownBy(() -> Quantity.parse("q", "Gi")).hasMessageContaining("must be a quantity like 2Gi");
        assertThatThrownBy(() -> Quantity.parse("q", "1e999")).hasMessageContaining("absurd exponent 999");
        assertThatThrownBy(() -> Quantity.parse("q", "9Ei").bytesCeil("q")).hasMessageContaining("q is absurdly large");
        assertThatThrownBy(() -> Quantity.parse("q", "1".repeat(65))).hasMessageContaining("at most 64");
        assertThatThrownBy(() -> Quantity.of("q", java.util.List.of())).hasMessageContaining("q must be a quantity");
        assertThatThrownBy(() -> Quantity.of("q", Double.NaN)).hasMessageContaining("finite");
    }
}
