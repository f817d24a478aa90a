package io.vmhandler.core.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.core.demo.QemuProcess;
import io.vmhandler.testing.Cmd;
import io.vmhandler.testing.Root;
import org.junit.jupiter.api.Test;

/** The README's first command end to end: it must do the job, print it, and leave nothing behind. */
class DemoCommandIT {
    @Test
    void demoCreatesTheTapQemuAttachesAndEverythingIsCleanedUp() {
        Root.require();
        Root.requireTool(QemuProcess.QEMU.toString());
        String netnsBefore = Cmd.run("ip", "netns", "list").ok().out();
        CliRun r = CliRun.of("demo");
        assertThat(r.exit()).as(r.out() + r.err()).isZero();
        assertThat(r.out()).contains("tap tap0: created").contains("multi_queue=on").contains("owner=107 group=107")
                .containsPattern("qemu pid \\d+ \\(uid 107, no capabilities\\) attached 4/4 queues of tap0")
                .contains("cleaned up");
        assertThat(Cmd.run("ip", "netns", "list").ok().out()).isEqualTo(netnsBefore);
        assertThat(Cmd.run("pgrep", "-f", "vmh-tap0,debug-threads").exit()).isEqualTo(1);
    }
}
