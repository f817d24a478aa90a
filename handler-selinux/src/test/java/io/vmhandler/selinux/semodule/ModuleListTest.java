package io.vmhandler.selinux.semodule;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vmhandler.selinux.InstalledModule;
import org.junit.jupiter.api.Test;

class ModuleListTest {
    // the shape semodule 3.4 prints (docs/selinux.md §8.3), including a disabled row and a same-prefix name
    private static final String OUT = """
            100 virt            pp           sha256:83f27e62888de723318c4a793aadc5945f2c2a4143048e036a69ebb2dda9cfb5\s
            200 virt_launcher   cil          sha256:aaaa\s
            400 virt_launcher   cil disabled sha256:b7e570d0e61c3da875e222608d9d3e9a2a09cd719f1d17c8064c5a0ee3d662a3\s
            100 amtu            pp  disabled sha256:e914\s
            """;

    @Test
    void parsesEveryPriorityOfTheName() {
        assertThat(ModuleList.parse(OUT, "virt_launcher")).containsExactly(
                new InstalledModule("virt_launcher", 200, "cil", "sha256:aaaa", true),
                new InstalledModule("virt_launcher", 400, "cil",
                        "sha256:b7e570d0e61c3da875e222608d9d3e9a2a09cd719f1d17c8064c5a0ee3d662a3", false));
        assertThat(ModuleList.parse(OUT, "virt")).hasSize(1);
        assertThat(ModuleList.parse(OUT, "nothing")).isEmpty();
    }

    @Test
    void aSemoduleWithoutChecksumsIsNamed() {
        assertThatThrownBy(() -> ModuleList.parse("400 virt_launcher cil\n", "virt_launcher"))
                .hasMessageContaining("3.4+").hasMessageContaining("virt_launcher");
    }
}
