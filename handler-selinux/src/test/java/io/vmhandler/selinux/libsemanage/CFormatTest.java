package io.vmhandler.selinux.libsemanage;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

class CFormatTest {
    private static final Map<Long, String> STRINGS = Map.of(0x1000L, "virt_launcher", 0x2000L, "/var/lib/selinux");

    private static String f(String fmt, long... args) {
        return CFormat.format(fmt, args, STRINGS::get);
    }

    @Test
    void rendersTheConversionsLibsemanageUses() {
        assertThat(f("Module %s at priority %d not found.", 0x1000L, 400)).isEqualTo("Module virt_launcher at priority 400 not found.");
        assertThat(f("Could not open %s: %s", 0x2000L, 0)).isEqualTo("Could not open /var/lib/selinux: (null)");
        assertThat(f("%zu bytes, %lu, %u, %x, %X, %o, %c, 100%%", 5, 7, -1, 255, 255, 8, 'A'))
                .isEqualTo("5 bytes, 7, 4294967295, ff, FF, 10, A, 100%");
    }

    @Test
    void appliesLengthWidthAndPrecision() {
        assertThat(f("%d", 0xFFFFFFFFL)).as("int is 32-bit").isEqualTo("-1");
        assertThat(f("%ld", 0xFFFFFFFFL)).isEqualTo("4294967295");
        assertThat(f("%hd", 0x1FFFFL)).isEqualTo("-1");
        assertThat(f("[%5d|%-5d|%05d]", 42, 42, 42)).isEqualTo("[   42|42   |00042]");
        assertThat(f("%.4s", 0x1000L)).isEqualTo("virt");
        assertThat(f("%*d", 4, 7)).isEqualTo("   7");
    }

    @Test
    void missingArgumentsReadAsZeroAndFloatsAsQuestionMarks() {
        assertThat(f("%d %d", 1)).isEqualTo("1 0");
        assertThat(f("%f then %d", 1, 2)).isEqualTo("? then 2");
        assertThat(f("trailing %")).isEqualTo("trailing ");
    }
}
