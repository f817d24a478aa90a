package io.vmhandler.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.cli.demo.QemuProcess;
import io.vmhandler.nativeio.NetNamespace;
import io.vmhandler.net.IoctlTapDevices;
import io.vmhandler.net.TapDevices;
import io.vmhandler.net.TapSpec;
import io.vmhandler.testing.Cmd;
import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.Root;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A real QEMU (Debian's qemu-system-x86), running as uid/gid 107 with no capabilities inside the
 * pod netns, attaches the queues of a tap vmhandler made. The negative cases give the test teeth:
 * the same QEMU must fail when the tap is absent or owned by someone else.
 */
class QemuTapAttachIT {
    @RegisterExtension
    final HostCleanup host = new HostCleanup();

    private static NetNamespace runner;
    private static TapDevices taps;
    private String ns;
    private String nsName;

    @BeforeAll
    static void start() {
        runner = new NetNamespace("qemu-it", 1);
        taps = new IoctlTapDevices(runner);
    }

    @AfterAll
    static void stop() {
        runner.close();
    }

    @BeforeEach
    void setUp() {
        Root.require();
        Root.requireTool(QemuProcess.QEMU.toString());
        ns = host.netns("vmh-qemu");
        nsName = Path.of(ns).getFileName().toString();
    }

    private QemuProcess qemu(int queues) throws Exception {
        QemuProcess q = QemuProcess.start(ns, "tap0", queues, 107, 107, 2);
        host.add(q::close);
        return q;
    }

    private int attached() {
        return QemuProbes.attachedQueues(nsName, "tap0");
    }

    private static long tunFds(QemuProcess q) {
        return QemuProbes.tunFds(q.pid(), "tap0");
    }

    @ParameterizedTest(name = "{0} queues")
    @ValueSource(ints = {1, 4, 16})
    void unprivilegedQemuAttachesEveryQueue(int queues) throws Exception {
        taps.create(ns, new TapSpec("tap0", queues, 107, 107, null));
        QemuProcess q = qemu(queues);
        long deadline = System.nanoTime() + 30_000_000_000L;
        while ((queues > 1 ? attached() : tunFds(q)) != queues && q.alive() && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        if (queues > 1) {
            assertThat(attached()).as("queues attached; qemu output: %s", q.output()).isEqualTo(queues);
        }
        assertThat(tunFds(q)).as("tun fds on tap0; qemu output: %s", q.output()).isEqualTo(queues);

        String status = Files.readString(Path.of("/proc/" + q.pid() + "/status"));
        assertThat(status).containsPattern("Uid:\\s+107\\s+107\\s+107\\s+107")
                .containsPattern("Gid:\\s+107\\s+107\\s+107\\s+107")
                .contains("CapEff:\t0000000000000000").contains("CapBnd:\t0000000000000000")
                .contains("NoNewPrivs:\t1");
    }

    @Test
    void qemuFailsWhenTheTapIsAbsent() throws Exception {
        QemuProcess q = qemu(4);
        assertThat(q.waitExit(30_000)).isNotZero().isNotEqualTo(-1);
        assertThat(q.output()).contains("tap0");
        assertThat(Cmd.run("ip", "-n", nsName, "link").out()).doesNotContain("tap0");
    }

    @Test
    void qemuFailsWhenTheTapBelongsToAnotherUser() throws Exception {
        taps.create(ns, new TapSpec("tap0", 4, 0, 0, null));
        QemuProcess q = qemu(4);
        assertThat(q.waitExit(30_000)).isNotZero().isNotEqualTo(-1);
        assertThat(q.output()).containsIgnoringCase("operation not permitted");
    }

    @Test
    void qemuFailsWhenOnlyTheOwnerMatchesButNotTheGroup() throws Exception {
        // the kernel requires owner AND group to match the opener (tun_not_capable)
        taps.create(ns, new TapSpec("tap0", 4, 107, 0, null));
        QemuProcess q = qemu(4);
        assertThat(q.waitExit(30_000)).isNotZero().isNotEqualTo(-1);
        assertThat(q.output()).containsIgnoringCase("operation not permitted");
    }
}
