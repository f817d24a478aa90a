package io.vmhandler.selinux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vmhandler.selinux.libsemanage.LibsemanageInstaller;
import io.vmhandler.selinux.testing.PolicyTools;
import io.vmhandler.selinux.testing.TestPolicyStore;
import io.vmhandler.selinux.testing.Timings;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * On a real policy store in an alternate root (see {@link AlternateStoreCase}). A failed commit must leave
 * every file of the store as it was.
 */
@DisplayName("libsemanage rejects broken modules on an alternate policy store (no SELinux kernel)")
class LibsemanageBrokenModulesAlternateStoreIT extends AlternateStoreCase {
    @Test
    @DisplayName("broken modules fail with the error named and leave the store untouched (alternate store)")
    void brokenModules() throws Exception {
        PolicyRoot r = TestPolicyStore.copy(tmp.resolve("root"));
        LibsemanageInstaller inst = new LibsemanageInstaller(r, null);
        String before = PolicyTools.fingerprint(r);
        record Case(String what, String cil, String expected) {}
        List<Case> cases = List.of(
                new Case("bad type", """
                        (block virt_launcher (type process) (roletype system_r process)
                          (allow process hugetlbfs_tt (file (read))))
                        """, "Failed to resolve allow statement"),
                new Case("bad class", """
                        (block virt_launcher (type process) (roletype system_r process)
                          (allow process self (tun_sockets (attach_queue))))
                        """, "Failed to resolve allow statement"),
                // KubeVirt's proc_type read rule: refpolicy forbids reading proc_kcore_t/proc_kmsg_t
                new Case("neverallow violation", """
                        (block virt_launcher (type process) (roletype system_r process)
                          (typeattributeset domain (process))
                          (allow process proc_type (file (getattr open read))))
                        """, "neverallow check failed"));
        for (Case c : cases) {
            long t0 = System.nanoTime();
            assertThatThrownBy(() -> inst.install(CilModule.of("virt_launcher", c.cil()), 400, false))
                    .as(c.what()).isInstanceOf(PolicyException.class)
                    .hasMessageContaining("semanage_commit(" + r.storeDir() + ")")
                    .hasMessageContaining(c.expected())
                    .hasMessageContaining("virt_launcher/cil:");
            Timings.record("libsemanage rejects " + c.what(), (System.nanoTime() - t0) / 1e9);
            assertThat(PolicyTools.fingerprint(r)).as(c.what() + " leaves the store untouched").isEqualTo(before);
        }
        assertThat(PolicyTools.semoduleList(r, "virt_launcher")).isEmpty();
        // the failed transactions released the store's lock: a good module still installs, in this
        // process (a leaked flock would block it) and then for the distribution's semodule
        inst.install(CilModule.launcher(), 400, false);
        assertThat(PolicyTools.semoduleList(r, "virt_launcher")).hasSize(1);
        TestPolicyStore.run(List.of("semodule", "-p", r.root().toString(), "-s", r.store(), "-n", "-X", "400", "-r",
                "virt_launcher"));
        assertThat(PolicyTools.semoduleList(r, "virt_launcher")).isEmpty();
    }
}
