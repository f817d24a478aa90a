package io.vmhandler.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bad input exits 2 naming the flag, before anything touches a process. */
class PinCommandTest {
    record Run(int exit, String out, String err) {}

    static Run run(String... argv) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.cli().run(argv, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void bothCommandsAreRegisteredWithTheirUsage() {
        Run help = run("--help");
        assertThat(help.out()).contains("pin ").contains("cgroup ");
        assertThat(run("pin", "--help").out()).contains("usage: vmhandler pin --pid PID --vmi FILE [--cpus LIST] [--json]");
        assertThat(run("cgroup", "--help").out()).contains("usage: vmhandler cgroup --pid PID [--json]");
    }

    @Test
    void pinRejectsBadFlags(@TempDir Path dir) throws Exception {
        Path vmi = dir.resolve("vmi.yaml");
        Files.writeString(vmi, "apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\nspec: {domain: {cpu: {cores: -1}}}\n");
        Run r = run("pin", "--vmi", vmi.toString());
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("--pid is required");
        r = run("pin", "--pid", "0", "--vmi", vmi.toString());
        assertThat(r.err()).contains("--pid must be in 1..4194304, got 0");
        r = run("pin", "--pid", "1", "--vmi", dir.resolve("nope.yaml").toString());
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("--vmi " + dir.resolve("nope.yaml") + ": no such file");
        r = run("pin", "--pid", "1", "--vmi", vmi.toString(), "--cpus", "3-1");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("--cpus: cpu list '3-1': range 3-1 is reversed");
        r = run("pin", "--pid", "1", "--vmi", vmi.toString(), "--cpus", " ");
        assertThat(r.err()).contains("--cpus must name at least one CPU");
        r = run("pin", "--pid", "1", "--vmi", vmi.toString());
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("spec.domain.cpu.cores must be in 0..1024, got -1");
    }

    @Test
    void theProcRootOfPinMemlockAndCgroupIsProcOrTheEnvironments() {
        assertThat(Main.procRoot(null)).isEqualTo(Path.of("/proc"));
        assertThat(Main.procRoot(" ")).isEqualTo(Path.of("/proc"));
        assertThat(Main.procRoot("/host/proc")).isEqualTo(Path.of("/host/proc"));
        assertThat(run("pin", "--help").out()).contains("$" + Main.PROC_ROOT_ENV);
    }

    @Test
    void cgroupRejectsBadFlags() {
        assertThat(run("cgroup").err()).contains("--pid is required");
        assertThat(run("cgroup", "--pid", "x").err()).contains("--pid must be an integer");
        assertThat(run("cgroup", "--pid", "1", "--bogus").err()).contains("unknown flag --bogus");
    }
}
