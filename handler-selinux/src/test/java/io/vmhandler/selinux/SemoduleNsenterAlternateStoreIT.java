package io.vmhandler.selinux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vmhandler.selinux.semodule.SemodulePolicyInstaller;
import io.vmhandler.selinux.testing.PolicyTools;
import io.vmhandler.selinux.testing.TestPolicyStore;
import io.vmhandler.selinux.testing.Timings;
import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.Root;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The semodule installer, run exactly as on a node ({@code nsenter -t PID -m -- semodule ...}), but
 * into the mount namespace of a process this test starts with {@code unshare -m} instead of pid 1's
 * (this sandbox cannot enter pid 1's), and on an ALTERNATE-ROOT policy store instead of an SELinux
 * kernel's. The store, semodule and the namespace switch are real.
 */
@DisplayName("semodule installer via nsenter on an alternate policy store (no SELinux kernel)")
class SemoduleNsenterAlternateStoreIT {
    @TempDir
    Path tmp;

    @RegisterExtension
    final HostCleanup host = new HostCleanup();

    @Test
    @DisplayName("install, no-op, re-enable and remove through nsenter + semodule (alternate store)")
    void lifecycleThroughNsenter() throws Exception {
        Root.requireTool("/usr/bin/nsenter");
        PolicyRoot r = TestPolicyStore.copy(tmp.resolve("root"));
        Process ns = host.process(new ProcessBuilder("unshare", "-m", "--propagation", "private", "sleep", "600"));
        awaitOwnMountNamespace(ns.pid());
        List<String> prefix = List.of("nsenter", "-t", Long.toString(ns.pid()), "-m", "--");
        Path staging = tmp.resolve("staging");
        SemodulePolicyInstaller inst = new SemodulePolicyInstaller(prefix, r, staging);
        SelinuxPolicy p = new SelinuxPolicy(r, inst, c -> new SemodulePolicyInstaller(prefix, c, staging),
                CilModule.launcher(), staging, SelinuxStatus.PROC_FILESYSTEMS);
        String sha = CilModule.launcher().checksum();

        InstallResult first = p.install();
        Timings.record("semodule (nsenter) install (first, commits a rebuild)", first.took().toNanos() / 1e9);
        assertThat(first.outcome()).isEqualTo(InstallResult.Outcome.INSTALLED);
        assertThat(first.module()).isEqualTo(new InstalledModule("virt_launcher", 400, "cil", sha, true));
        assertThat(PolicyTools.semoduleList(r, "virt_launcher")).containsExactly("400 virt_launcher cil " + sha);
        assertThat(PolicyTools.sesearchAllows(PolicyTools.policyFile(r), "virt_launcher.process",
                "virt_launcher.process", "tun_socket", "relabelfrom", "relabelto", "attach_queue")).isTrue();
        try (var s = Files.list(staging)) {
            assertThat(s.toList()).as("the staged module file is removed").isEmpty();
        }

        String before = PolicyTools.fingerprint(r);
        InstallResult again = p.install();
        Timings.record("semodule (nsenter) install again (no-op)", again.took().toNanos() / 1e9);
        assertThat(again.outcome()).isEqualTo(InstallResult.Outcome.UNCHANGED);
        assertThat(PolicyTools.fingerprint(r)).isEqualTo(before);

        TestPolicyStore.run(List.of("semodule", "-p", r.root().toString(), "-s", r.store(), "-n", "-d", "virt_launcher"));
        InstallResult reenabled = p.install();
        assertThat(reenabled.outcome()).isEqualTo(InstallResult.Outcome.ENABLED);
        assertThat(PolicyTools.semoduleList(r, "virt_launcher")).containsExactly("400 virt_launcher cil " + sha);

        assertThat(p.remove().changed()).isTrue();
        assertThat(PolicyTools.semoduleList(r, "virt_launcher")).isEmpty();
        assertThat(p.remove().changed()).isFalse();
    }

    @Test
    @DisplayName("a broken module fails with semodule's error and leaves the store untouched (alternate store)")
    void brokenModuleThroughSemodule() throws Exception {
        PolicyRoot r = TestPolicyStore.copy(tmp.resolve("root"));
        SemodulePolicyInstaller inst = new SemodulePolicyInstaller(List.of(), r, tmp.resolve("staging"));
        String before = PolicyTools.fingerprint(r);
        assertThatThrownBy(() -> inst.install(CilModule.of("virt_launcher",
                "(block virt_launcher (type process) (allow process self (tun_socket (attach_queues))))"), 400, false))
                .isInstanceOf(PolicyException.class)
                .hasMessageContaining("semodule -p " + r.root() + " -s default -n -X 400 -i ")
                .hasMessageContaining("Failed to resolve allow statement");
        assertThat(PolicyTools.fingerprint(r)).isEqualTo(before);
    }

    /** unshare execs sleep once the new namespace exists; wait until the pid's namespace differs from ours. */
    private static void awaitOwnMountNamespace(long pid) throws Exception {
        for (int i = 0; i < 100; i++) {
            try {
                if (!Files.readSymbolicLink(Path.of("/proc/" + pid + "/ns/mnt")).equals(
                        Files.readSymbolicLink(Path.of("/proc/self/ns/mnt")))) {
                    return;
                }
            } catch (java.io.IOException e) {
                // not there yet
            }
            Thread.sleep(50);
        }
        throw new AssertionError("process " + pid + " never got its own mount namespace");
    }
}
