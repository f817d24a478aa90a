package io.vmhandler.selinux;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.selinux.testing.PolicyTools;
import io.vmhandler.selinux.testing.TestPolicyStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * On a real policy store in an alternate root (see {@link AlternateStoreCase}). The host grants are
 * simulated by a CIL module that gives container_t what container-selinux gives container_domain.
 */
@DisplayName("libsemanage installs nothing when the host policy grants the rules (alternate store, no SELinux kernel)")
class LibsemanageNotNeededAlternateStoreIT extends AlternateStoreCase {
    @Test
    @DisplayName("nothing is installed when the host policy already grants the rules to container_t (alternate store)")
    void notNeededWhenHostGrants() throws Exception {
        PolicyRoot r = TestPolicyStore.copy(tmp.resolve("root"));
        // what container-selinux >= 2.156.0 grants every container_domain, written for container_t here
        Path grants = tmp.resolve("container_launcher.cil");
        Files.writeString(grants, """
                (allow container_t self (tun_socket (relabelfrom relabelto attach_queue)))
                (allow container_t spc_t (tun_socket (relabelfrom)))
                (allow container_t hugetlbfs_t (file (getattr read write map)))
                """);
        TestPolicyStore.run(List.of("semodule", "-p", r.root().toString(), "-s", r.store(), "-n", "-X", "300", "-i",
                grants.toString()));
        SelinuxPolicy p = policy(r, CilModule.launcher());
        assertThat(p.hostGrants()).hasSize(3).allMatch(RuleCheck::granted);
        String before = PolicyTools.fingerprint(r);
        InstallResult res = p.install();
        assertThat(res.outcome()).isEqualTo(InstallResult.Outcome.NOT_NEEDED);
        assertThat(res.launcherType()).isEqualTo("container_t");
        assertThat(res.module()).isNull();
        assertThat(PolicyTools.fingerprint(r)).isEqualTo(before);
        assertThat(PolicyTools.semoduleList(r, "virt_launcher")).isEmpty();
    }
}
