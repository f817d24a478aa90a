package io.vmhandler.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.cli.demo.QemuProcess;
import io.vmhandler.testing.Cmd;
import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.Root;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Issue 12's acceptance: a multiqueue VMI sized only by {@code spec.domain.resources} (no
 * {@code spec.domain.cpu} topology) gets as many tap queues as KubeVirt's launcher asks libvirt for
 * (GetCPUTopology: limits.cpu, else requests.cpu, rounded up, as sockets), through PrepareNetwork over
 * the real socket from a fake pod, and a real QEMU, as uid 107 with no capabilities inside the pod's
 * netns and cgroup, attaches every queue. Before the VMI plan the tap had one queue and QEMU, asked for
 * that many queues, could not attach (QemuTapAttachIT shows QEMU failing on a tap it cannot use).
 */
class MultiqueueFromResourcesIT {
    @RegisterExtension
    final HostCleanup host = new HostCleanup();

    private static final HostCleanup shared = new HostCleanup();
    private static StandaloneNode node;

    @BeforeAll
    static void startDaemon() throws Exception {
        Root.require();
        Root.requireTool(QemuProcess.QEMU.toString());
        node = StandaloneNode.start(shared, "vmh-mq-", c -> c);
    }

    @AfterAll
    static void stopDaemon() {
        shared.cleanupNow();
    }

    /** FakePod's VMI without a CPU topology, sized by {@code resources} only. */
    private static String sizedByResources(FakePod pod, String name, String resources) {
        String yaml = pod.vmi(name, StandaloneNode.NODE, "");
        String withoutTopology = yaml.replace("    cpu: {cores: 2, dedicatedCpuPlacement: true}\n", "");
        assertThat(withoutTopology).as("FakePod's VMI template changed").isNotEqualTo(yaml);
        String sized = withoutTopology.replace("resources: {requests: {memory: 128Mi}}", "resources: " + resources);
        assertThat(sized).as("FakePod's VMI template changed").isNotEqualTo(withoutTopology);
        return sized;
    }

    @ParameterizedTest(name = "{0} -> {1} queues")
    @CsvSource(delimiter = '|', value = {
        "{limits: {cpu: \"4\", memory: 128Mi}, requests: {memory: 128Mi}}|4",
        "{requests: {cpu: 1500m, memory: 128Mi}}|2"})
    void theTapGetsTheVcpuCountOfTheResourcesAndQemuAttachesEveryQueue(String resources, int queues) throws Exception {
        FakePod pod = new FakePod(host, "0-1");
        String file = "mq-" + queues + ".yaml";
        node.publish(file, sizedByResources(pod, "vm-mq-" + queues, resources));
        host.add(() -> node.vmiDir.resolve(file).toFile().delete());

        Cmd.Result r = pod.launcher(node.classpath, node.socket, "prepare-network", "--json");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out()).contains("\"name\":\"tap0\"").contains("\"queues\":" + queues).contains("\"ownerUid\":107");
        assertThat(Cmd.run("ip", "-n", pod.netnsName, "-d", "link", "show", "tap0").ok().out()).contains("multi_queue")
                .contains("user 107").contains("group 107");

        QemuProcess qemu = QemuProcess.start(pod.netnsPath, "tap0", queues, 107, 107, queues, List.of(pod.cpuset));
        host.add(qemu::close);
        long deadline = System.nanoTime() + 30_000_000_000L;
        while ((QemuProbes.attachedQueues(pod.netnsName, "tap0") != queues
                || QemuProbes.tunFds(qemu.pid(), "tap0") != queues) && qemu.alive() && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertThat(QemuProbes.attachedQueues(pod.netnsName, "tap0")).as("queues attached; qemu output: %s", qemu.output())
                .isEqualTo(queues);
        assertThat(QemuProbes.tunFds(qemu.pid(), "tap0")).as("tun fds; qemu output: %s", qemu.output()).isEqualTo(queues);
        String status = Files.readString(Path.of("/proc/" + qemu.pid() + "/status"));
        assertThat(status).containsPattern("Uid:\\s+107\\s+107\\s+107\\s+107").contains("CapEff:\t0000000000000000")
                .contains("NoNewPrivs:\t1");
        assertThat(Files.readString(pod.cpuset.resolve("cgroup.procs"))).contains(Long.toString(qemu.pid()));

        qemu.close();
        Cmd.Result rel = pod.launcher(node.classpath, node.socket, "release");
        assertThat(rel.exit()).as(rel.err()).isZero();
        assertThat(rel.out()).contains("removed taps: tap0");
        // Release hands the tap to the background deleter (docs/launcher-api.md §3.5): gone shortly after
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
                .until(() -> !Cmd.run("ip", "-n", pod.netnsName, "link").ok().out().contains("tap0"));
    }
}
