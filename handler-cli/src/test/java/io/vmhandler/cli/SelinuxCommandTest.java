package io.vmhandler.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Usage and error paths of {@code vmhandler selinux} that need no policy store. SELinux on/off is
 * given by a STAND-IN /proc/filesystems.
 */
class SelinuxCommandTest {
    @TempDir
    Path tmp;

    private record Run(int exit, String out, String err) {}

    private Run run(String... argv) throws Exception {
        Path fs = tmp.resolve("filesystems");
        if (!Files.exists(fs)) {
            Files.writeString(fs, "nodev\tproc\n\text4\n");
        }
        Cli cli = new Cli().register(new SelinuxCommand(fs));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = cli.run(argv, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void usageErrorsNameTheProblemAndExit2() throws Exception {
        assertThat(run("selinux").err()).contains("missing subcommand: status, install, remove or validate");
        Run bogus = run("selinux", "frobnicate");
        assertThat(bogus.exit()).isEqualTo(2);
        assertThat(bogus.err()).contains("unknown subcommand 'frobnicate'").contains("usage: vmhandler selinux");
        Run inst = run("selinux", "status", "--root", tmp.toString(), "--store", "default", "--installer", "rpm");
        assertThat(inst.exit()).isEqualTo(2);
        assertThat(inst.err()).contains("--installer must be libsemanage or semodule, got 'rpm'");
        Run staging = run("selinux", "install", "--root", tmp.toString(), "--store", "default", "--staging", "/x");
        assertThat(staging.exit()).isEqualTo(2);
        assertThat(staging.err()).contains("--staging and --host-pid only apply to --installer semodule");
        Run store = run("selinux", "status", "--root", tmp.toString(), "--store", "../etc");
        assertThat(store.exit()).isEqualTo(2);
        assertThat(store.err()).contains("store must match").contains("'../etc'");
        Run pid = run("selinux", "status", "--installer", "semodule", "--host-pid", "0");
        assertThat(pid.exit()).isEqualTo(2);
        assertThat(pid.err()).contains("--host-pid must be in 1..4194304, got 0");
    }

    @Test
    void withoutStoreTheRootsConfigMustNameOne() throws Exception {
        Run r = run("selinux", "status", "--root", tmp.toString());
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("no SELINUXTYPE in " + tmp.resolve("etc/selinux/config")).contains("--store");
    }

    @Test
    void statusOfAnAbsentStoreOnADisabledNode() throws Exception {
        Run text = run("selinux", "status", "--root", tmp.toString(), "--store", "default");
        assertThat(text.exit()).isZero();
        assertThat(text.out()).contains("selinux:   disabled").contains("(absent)").contains("installed: no")
                .contains("module:    virt_launcher (type virt_launcher.process), shipped sha256:");
        Run json = run("selinux", "status", "--root", tmp.toString(), "--store", "default", "--json");
        assertThat(json.out()).startsWith("{\"selinux\":{\"enabled\":false,\"enforcing\":null,")
                .contains("\"storeExists\":false").contains("\"installed\":[]").contains("\"current\":false");
    }

    @Test
    void changingAnAbsentStoreFailsWithoutCreatingIt() throws Exception {
        for (String sub : new String[] {"install", "remove", "validate"}) {
            Run r = run("selinux", sub, "--root", tmp.toString(), "--store", "default");
            assertThat(r.exit()).as(sub).isEqualTo(1);
            assertThat(r.err()).as(sub).contains("no policy store here").contains(tmp.resolve("var/lib/selinux/default").toString());
        }
        assertThat(tmp.resolve("var")).doesNotExist();
    }
}
