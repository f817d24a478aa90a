package io.vmhandler.selinux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vmhandler.selinux.libsemanage.LibsemanageInstaller;
import io.vmhandler.selinux.testing.PolicyTools;
import io.vmhandler.selinux.testing.TestPolicyStore;
import io.vmhandler.selinux.testing.Timings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * On a real policy store in an alternate root (see {@link AlternateStoreCase}). Rules are proven with
 * sesearch and seinfo from setools, module state with the distribution's semodule.
 */
@DisplayName("libsemanage lifecycle on an alternate policy store (no SELinux kernel)")
class LibsemanageLifecycleAlternateStoreIT extends AlternateStoreCase {
    @Test
    @DisplayName("install, second install is a no-op, disabled module is re-enabled, remove (alternate store)")
    void lifecycle() throws Exception {
        PolicyRoot r = TestPolicyStore.copy(tmp.resolve("root"));
        CilModule m = CilModule.launcher();
        SelinuxPolicy p = policy(r, m);
        assertThat(p.installed()).isEmpty();
        assertThat(PolicyTools.seinfoType(PolicyTools.policyFile(r), "virt_launcher.process")).doesNotContain("type virt_launcher.process");

        InstallResult first = p.install();
        Timings.record("libsemanage install (first, commits a rebuild)", first.took().toNanos() / 1e9);
        assertThat(first.outcome()).isEqualTo(InstallResult.Outcome.INSTALLED);
        assertThat(first.launcherType()).isEqualTo("virt_launcher.process");
        assertThat(first.kernel()).startsWith("not loaded");
        // refpolicy's container_t cannot open a precreated tap: the module was needed
        assertThat(first.checks()).isNotEmpty().anyMatch(c -> !c.granted());
        String sha = "sha256:" + PolicyTools.sha256(Files.readAllBytes(
                Path.of("src/main/resources/selinux/virt_launcher.cil")));
        assertThat(first.module()).isEqualTo(new InstalledModule("virt_launcher", 400, "cil", sha, true));
        assertThat(PolicyTools.semoduleList(r, "virt_launcher")).containsExactly("400 virt_launcher cil " + sha);

        Path policy = PolicyTools.policyFile(r);
        assertThat(PolicyTools.sesearchAllows(policy, "virt_launcher.process", "virt_launcher.process", "tun_socket",
                "relabelfrom", "relabelto", "attach_queue")).isTrue();
        assertThat(PolicyTools.sesearchAllows(policy, "virt_launcher.process", "spc_t", "tun_socket", "relabelfrom")).isTrue();
        assertThat(PolicyTools.sesearchAllows(policy, "virt_launcher.process", "hugetlbfs_t", "file",
                "getattr", "read", "write", "map")).isTrue();
        // the refpolicy-only optional block resolved: entrypoint, which refpolicy grants container_t only
        assertThat(PolicyTools.sesearchAllows(policy, "virt_launcher.process", "container_file_t", "file", "entrypoint")).isTrue();
        assertThat(PolicyTools.seinfoType(policy, "virt_launcher.process")).contains("container_domain",
                "container_net_domain", "mcs_constrained_type", "container_system_domain", "domain");
        // and refpolicy's container_t itself still lacks them (why the module exists)
        assertThat(PolicyTools.sesearchAllows(policy, "container_t", "container_t", "tun_socket", "attach_queue")).isFalse();

        String before = PolicyTools.fingerprint(r);
        InstallResult again = p.install();
        Timings.record("libsemanage install again (same content: no-op)", again.took().toNanos() / 1e9);
        assertThat(again.outcome()).isEqualTo(InstallResult.Outcome.UNCHANGED);
        assertThat(again.module().checksum()).isEqualTo(sha);
        assertThat(PolicyTools.fingerprint(r)).as("a no-op must not touch the store").isEqualTo(before);
        assertThat(again.took()).isLessThan(first.took().dividedBy(4));

        TestPolicyStore.run(List.of("semodule", "-p", r.root().toString(), "-s", r.store(), "-n", "-d", "virt_launcher"));
        assertThat(PolicyTools.semoduleList(r, "virt_launcher")).containsExactly("400 virt_launcher cil disabled " + sha);
        assertThat(p.installed()).hasValueSatisfying(im -> assertThat(im.enabled()).isFalse());
        InstallResult reenabled = p.install();
        Timings.record("libsemanage install of a disabled module (re-enable)", reenabled.took().toNanos() / 1e9);
        assertThat(reenabled.outcome()).isEqualTo(InstallResult.Outcome.ENABLED);
        assertThat(PolicyTools.semoduleList(r, "virt_launcher")).containsExactly("400 virt_launcher cil " + sha);
        assertThat(PolicyTools.sesearchAllows(PolicyTools.policyFile(r), "virt_launcher.process",
                "virt_launcher.process", "tun_socket", "attach_queue")).isTrue();

        long t0 = System.nanoTime();
        Committed removed = p.remove();
        Timings.record("libsemanage remove", (System.nanoTime() - t0) / 1e9);
        assertThat(removed.changed()).isTrue();
        assertThat(PolicyTools.semoduleList(r, "virt_launcher")).isEmpty();
        assertThat(PolicyTools.seinfoType(PolicyTools.policyFile(r), "virt_launcher.process"))
                .doesNotContain("type virt_launcher.process");
        assertThat(p.remove().changed()).as("second remove finds nothing").isFalse();
        assertThat(p.installed()).isEmpty();

        // libsemanage keeps this store's paths for the life of the process: another store is refused
        assertThatThrownBy(() -> new LibsemanageInstaller(new PolicyRoot(tmp.resolve("other"), "default"), null)
                .list("virt_launcher")).isInstanceOf(PolicyException.class)
                .hasMessageContaining("keeps the first store's paths");
    }
}
