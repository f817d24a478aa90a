package io.vmhandler.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.cli.demo.QemuProcess;
import io.vmhandler.testing.Cmd;
import io.vmhandler.testing.Root;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The README's first command end to end: embedded API, sample VMI, fake pod, daemon, launcher calls
 * through the socket, QEMU. It must do the job, print it, and leave nothing behind.
 */
class DemoCommandIT {
    @Test
    void demoRunsTheWholeJobAndLeavesNothingBehind() {
        Root.require();
        Root.requireTool(QemuProcess.QEMU.toString());
        CliRun r = CliRun.of("demo", "--vmi", Path.of("..", "deploy", "examples", "vmi.yaml").toString());
        assertThat(r.exit()).as(r.out() + r.err()).isZero();
        assertThat(r.out()).contains("embedded Kubernetes API (fabric8 mock, CRUD mode) at http://127.0.0.1:")
                .contains("created tap tap0 for interface default: queues=4 mtu=1500 owner=107 group=107")
                .contains("memlock of pid").contains("attached 4/4 queues of tap0")
                .containsPattern("vcpu 0 \\(tid \\d+\\) -> cpus \\[0\\]")
                .contains("vmhandler_grpc_requests_total{code=\"OK\",method=\"PrepareNetwork\"} 1.0")
                .contains("cleaned up");
        assertThat(r.err()).doesNotContain("cleanup:");
        // only what the demo made is checked, so tests running beside it cannot disturb the verdict
        java.util.regex.Matcher pod = java.util.regex.Pattern.compile("launcher pod (\\S+): netns /var/run/netns/(\\S+),")
                .matcher(r.out());
        assertThat(pod.find()).as(r.out()).isTrue();
        assertThat(Cmd.run("ip", "netns", "list").ok().out()).doesNotContain(pod.group(2));
        try (var dirs = Files.walk(Path.of("/sys/fs/cgroup/cpuset"), 3)) {
            assertThat(dirs.map(Path::toString).filter(d -> d.contains("pod" + pod.group(1))).toList()).isEmpty();
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
        assertThat(Cmd.run("pgrep", "-f", "vmh-tap0,debug-threads").exit()).isEqualTo(1);
        assertThat(Cmd.run("pgrep", "-f", "sleep 3600").exit()).isEqualTo(1);
    }
}
