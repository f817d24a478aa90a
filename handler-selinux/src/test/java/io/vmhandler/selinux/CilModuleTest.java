package io.vmhandler.selinux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

class CilModuleTest {
    @Test
    void theShippedModuleIsTheResourceAndItsChecksumIsSha256OfItsBytes() throws Exception {
        CilModule m = CilModule.launcher();
        byte[] file = Files.readAllBytes(Path.of("src/main/resources/selinux/virt_launcher.cil"));
        assertThat(m.name()).isEqualTo("virt_launcher");
        assertThat(m.content()).isEqualTo(file);
        assertThat(m.checksum()).isEqualTo("sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(file)));
    }

    @Test
    void theShippedModuleDeclaresTheDomainAndTheRules() {
        String cil = new String(CilModule.launcher().content(), StandardCharsets.UTF_8);
        assertThat(cil).contains("(block virt_launcher", "(type process)", "(roletype system_r process)",
                "(typeattributeset container_domain (process))", "(typeattributeset mcs_constrained_type (process))",
                "(tun_socket (relabelfrom relabelto attach_queue))", "(allow process hugetlbfs_t (file (getattr read write map)))");
        // left out on purpose: KubeVirt's proc_type read breaks refpolicy's neverallows
        assertThat(cil).doesNotContain("proc_type");
    }

    @Test
    void badNamesAreRejectedWithTheLimit() {
        assertThatThrownBy(() -> CilModule.of("../etc", "(x)")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("module name must match").hasMessageContaining("'../etc'");
        assertThatThrownBy(() -> CilModule.of("ok", new byte[0])).hasMessageContaining("empty");
    }
}
