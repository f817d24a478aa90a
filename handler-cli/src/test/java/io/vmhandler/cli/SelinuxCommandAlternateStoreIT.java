package io.vmhandler.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.selinux.CilModule;
import io.vmhandler.selinux.PolicyRoot;
import io.vmhandler.selinux.testing.PolicyTools;
import io.vmhandler.selinux.testing.TestPolicyStore;
import io.vmhandler.selinux.testing.Timings;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code vmhandler selinux ...} end to end on a real policy store in an ALTERNATE ROOT (Debian
 * refpolicy + container module, neverallow checks on), not an SELinux kernel. Each command runs in
 * its own JVM, as from bin/vmhandler: libsemanage serves one store per process.
 */
class SelinuxCommandAlternateStoreIT {
    @TempDir
    Path tmp;

    private record Run(int exit, String out, String err, double seconds) {}

    private static Run cli(String... args) throws Exception {
        List<String> argv = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dvmhandler.log.level=WARN", "-cp", System.getProperty("java.class.path"), "io.vmhandler.cli.Main"));
        argv.addAll(List.of(args));
        Path out = Files.createTempFile("cli-", ".out");
        Path err = Files.createTempFile("cli-", ".err");
        try {
            long t0 = System.nanoTime();
            Process p = new ProcessBuilder(argv).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            if (!p.waitFor(10, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new IOException("timed out: " + argv);
            }
            return new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                    Files.readString(err, StandardCharsets.UTF_8), (System.nanoTime() - t0) / 1e9);
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    @Test
    void validateInstallNoOpStatusRemove() throws Exception {
        PolicyRoot r = TestPolicyStore.copy(tmp.resolve("root"));
        String root = r.root().toString();
        String sha = CilModule.launcher().checksum();

        Run validate = cli("selinux", "validate", "--root", root, "--store", "default", "--json");
        assertThat(validate.exit()).as(validate.err()).isZero();
        assertThat(validate.out()).startsWith("{\"ok\":true,\"module\":\"virt_launcher\",\"checksum\":\"" + sha + "\"")
                .contains("\"neverallow\":true").contains("\"error\":null");
        assertThat(PolicyTools.semoduleList(r, "virt_launcher")).as("validate installs nothing").isEmpty();

        Run install = cli("selinux", "install", "--root", root, "--store", "default");
        Timings.record("CLI selinux install (process incl. JVM start)", install.seconds());
        assertThat(install.exit()).as(install.err()).isZero();
        assertThat(install.out()).contains("installed virt_launcher (" + sha + ", priority 400) into " + r.storeDir())
                .contains("launcher type: virt_launcher.process; kernel: not loaded: " + root + " is not the live host's root");
        assertThat(PolicyTools.semoduleList(r, "virt_launcher")).containsExactly("400 virt_launcher cil " + sha);

        Run again = cli("selinux", "install", "--root", root, "--store", "default");
        Timings.record("CLI selinux install again, no-op (process incl. JVM start)", again.seconds());
        assertThat(again.exit()).as(again.err()).isZero();
        assertThat(again.out()).contains("virt_launcher is already installed and enabled with the same content ("
                + sha + ", priority 400): nothing to do");
        assertThat(again.seconds()).isLessThan(install.seconds());

        Run status = cli("selinux", "status", "--root", root, "--store", "default", "--json");
        assertThat(status.exit()).isZero();
        assertThat(status.out()).contains("\"storeExists\":true")
                .contains("\"installed\":[{\"name\":\"virt_launcher\",\"priority\":400,\"lang\":\"cil\",\"checksum\":\""
                        + sha + "\",\"enabled\":true}],\"current\":true");

        Run remove = cli("selinux", "remove", "--root", root, "--store", "default", "--json");
        assertThat(remove.exit()).as(remove.err()).isZero();
        assertThat(remove.out()).startsWith("{\"removed\":true,\"module\":\"virt_launcher\",\"priority\":400,");
        assertThat(PolicyTools.semoduleList(r, "virt_launcher")).isEmpty();
        Run status2 = cli("selinux", "status", "--root", root, "--store", "default");
        assertThat(status2.out()).contains("installed: no");
    }

    @Test
    void validateReportsABrokenStoreAsFailure() throws Exception {
        PolicyRoot r = TestPolicyStore.copy(tmp.resolve("root"));
        // without refpolicy's container module the attributes the module joins do not exist
        TestPolicyStore.run(List.of("semodule", "-p", r.root().toString(), "-s", "default", "-n", "-X", "100", "-r", "container"));
        Run v = cli("selinux", "validate", "--root", r.root().toString(), "--store", "default");
        assertThat(v.exit()).isEqualTo(1);
        assertThat(v.out()).contains("virt_launcher does not build against " + r.storeDir())
                .contains("Failed to resolve typeattributeset statement");
    }
}
