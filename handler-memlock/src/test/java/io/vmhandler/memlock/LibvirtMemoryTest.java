package io.vmhandler.memlock;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/**
 * The edges of libvirt's size parsing. virScaleInteger (src/util/virutil.c) refuses
 * {@code value > limit / scale} ("value too large"); virDomainParseMemory (src/conf/domain_conf.c)
 * caps sizes at LLONG_MAX bytes and refuses {@code VIR_DIV_UP(bytes, 1024) >= VIR_DIV_UP(LLONG_MAX, 1024)}
 * = 2^53 KiB ("size value too large"); virDomainParseMemoryLimit caps limits at
 * VIR_DOMAIN_MEMORY_PARAM_UNLIMITED &lt;&lt; 10 = 9223372036854774784 bytes.
 */
class LibvirtMemoryTest {
    @Test
    void llongMaxBytesIs2pow53KiB_sizeValueTooLarge_oneKiBLessIsAccepted() {
        // 9223372036854775807 B -> ceil(/1024) = 9007199254740992 = VIR_DIV_UP(LLONG_MAX, 1024): refused
        assertThatThrownBy(() -> LibvirtMemory.kib("f", "9223372036854775807", "b"))
                .hasMessage("f: size value too large: 9223372036854775807 b");
        // (2^53 - 1) x 1024 = 9223372036854774784 B -> 9007199254740991 KiB: below the cap
        assertThat(LibvirtMemory.kib("f", "9223372036854774784", "b")).isEqualTo(9007199254740991L);
    }

    @Test
    void limitsAreCappedAtUnlimitedKiBInBytes() {
        // exactly the cap: 9223372036854774784 B = 9007199254740991 KiB, libvirt's "unlimited"
        assertThat(LibvirtMemory.limitKiB("f", "9223372036854774784", "b")).isEqualTo(MemlockFormula.UNLIMITED_KIB);
        assertThatThrownBy(() -> LibvirtMemory.limitKiB("f", "9223372036854774785", "b"))
                .hasMessage("f: value too large: 9223372036854774785 b");
        assertThat(LibvirtMemory.limitKiB("f", "0", "")).isZero();
    }

    @Test
    void errorsNameTheUnitAndNoUnitIsKiB() {
        assertThatThrownBy(() -> LibvirtMemory.kib("f", "99999999999999999999", ""))
                .hasMessage("f: value too large: 99999999999999999999 KiB");
        assertThatThrownBy(() -> LibvirtMemory.kib("f", "99999999999999999999", null))
                .hasMessage("f: value too large: 99999999999999999999 KiB");
        // 8 EiB = 2^63 bytes > LLONG_MAX
        assertThatThrownBy(() -> LibvirtMemory.kib("f", "8", "EiB")).hasMessage("f: value too large: 8 EiB");
        assertThat(LibvirtMemory.kib("f", "3", null)).isEqualTo(3);
        // strtoull takes a leading '+'
        assertThat(LibvirtMemory.kib("f", "+2", "MiB")).isEqualTo(2048);
    }

    @Test
    void emptyOrMissingValueIsEmpty() {
        assertThatThrownBy(() -> LibvirtMemory.kib("f", "", "")).hasMessageStartingWith("f is empty");
        assertThatThrownBy(() -> LibvirtMemory.kib("f", "  ", "")).hasMessageStartingWith("f is empty");
        assertThatThrownBy(() -> LibvirtMemory.kib("f", null, "")).hasMessageStartingWith("f is empty");
    }
}
