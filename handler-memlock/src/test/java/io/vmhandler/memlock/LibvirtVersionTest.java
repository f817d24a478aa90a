package io.vmhandler.memlock;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class LibvirtVersionTest {
    @ParameterizedTest
    @CsvSource({"10.0.0, 10.0.0", "9.2, 9.2.0", "v9.8.0, 9.8.0", " 11.3.0 , 11.3.0",
            // virConnectGetLibVersion: major * 1000000 + minor * 1000 + micro
            "9000000, 9.0.0", "10010000, 10.10.0", "8007001, 8.7.1"})
    void parsesDottedAndNumericForms(String text, String want) {
        assertThat(LibvirtVersion.parse("--libvirt-version", text)).hasToString(want);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "ten", "1.2.3.4", "10.x", "-1.0.0", "10.1000.0", "123"})
    void rejectsAnythingElseNamingTheField(String text) {
        assertThatThrownBy(() -> LibvirtVersion.parse("--libvirt-version", text))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("--libvirt-version");
    }

    @ParameterizedTest
    @CsvSource({"6.0.0, UP_TO_8_6", "7.1.0, UP_TO_8_6", "8.6.999, UP_TO_8_6", "8.7.0, FROM_8_7", "9.0.0, FROM_8_7",
            "9.2.9, FROM_8_7", "9.3.0, FROM_9_3", "9.7.0, FROM_9_3", "9.8.0, FROM_9_8", "10.7.0, FROM_9_8",
            "12.5.0, FROM_9_8", "99.0.0, FROM_9_8"})
    void eachReleaseSelectsItsRulesAndNewerMapsToTheNewest(String version, MemlockRules rules) {
        assertThat(MemlockRules.of(LibvirtVersion.parse("v", version))).isEqualTo(rules);
    }

    @org.junit.jupiter.api.Test
    void defaultSelectsTheNewestRules() {
        assertThat(MemlockRules.of(LibvirtVersion.DEFAULT)).isEqualTo(MemlockRules.FROM_9_8);
    }
}
