package io.vmhandler.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.vmhandler.testing.Cmd;
import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.Root;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Release answers before the kernel has deleted the taps (docs/launcher-api.md §3.5): a 4-tap pod's taps are out
 * of its use when Release returns (no link of their names, the retired ones down) and deleted shortly after; and a
 * daemon SIGKILLed between Release's answer and the deletions finishes them after its restart, from the
 * checkpoint. Real taps in a fake pod's netns, real daemon processes for the kill.
 */
class TapReaperIT {
    @RegisterExtension
    final HostCleanup host = new HostCleanup();

    /** The pod's links as "name flags", without lo. */
    private static List<String> links(FakePod pod) {
        return Cmd.run("ip", "-n", pod.netnsName, "-o", "link").ok().out().lines()
                .map(l -> l.split(": ")[1].split("@")[0] + " " + l.split(": ")[2].split(" ")[0])
                .filter(l -> !l.startsWith("lo ")).toList();
    }

    private static List<String> named(FakePod pod, String prefix) {
        return links(pod).stream().filter(l -> l.startsWith(prefix)).toList();
    }

    private static List<String> reaperRecords(Path checkpoints) throws Exception {
        if (!Files.isDirectory(checkpoints)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(checkpoints)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("tap-reap.")).toList();
        }
    }

    @Test
    void releaseOfAFourTapPodAnswersWithTheTapsOutOfUseAndTheyAreDeletedShortlyAfter() throws Exception {
        Root.require();
        StandaloneNode node = StandaloneNode.start(host, "vmh-reap-", c -> c.withMetricsPort(-1));
        FakePod pod = new FakePod(host, "0-1");
        node.publish("vm.yaml", pod.vmiWithTaps("vm-reap", StandaloneNode.NODE, 4));
        Cmd.Result prep = pod.launcher(node.classpath, node.socket, "prepare-network");
        assertThat(prep.exit()).as(prep.err()).isZero();
        assertThat(named(pod, "tap")).hasSize(4);
        Cmd.run("ip", "-n", pod.netnsName, "link", "set", "tap0", "up").ok(); // as QEMU's side would have it

        Cmd.Result rel = pod.launcher(node.classpath, node.socket, "release");
        assertThat(rel.exit()).as(rel.err()).isZero();
        assertThat(rel.out()).contains("tap0").contains("tap1").contains("tap2").contains("tap3");
        // out of the pod's use on the answer: no tap of those names; a retired one not yet deleted is down
        assertThat(named(pod, "tap")).isEmpty();
        assertThat(named(pod, "vmhdel-")).allSatisfy(l -> assertThat(l).doesNotContain("UP"));

        // the names are free at once: the next PrepareNetwork makes four new taps, whatever is still pending
        Cmd.Result again = pod.launcher(node.classpath, node.socket, "prepare-network", "--json");
        assertThat(again.exit()).as(again.err()).isZero();
        assertThat(again.out().split("\"created\":true", -1)).hasSize(5);
        Cmd.Result rel2 = pod.launcher(node.classpath, node.socket, "release");
        assertThat(rel2.exit()).as(rel2.err()).isZero();

        await().atMost(Duration.ofSeconds(10)).until(() -> links(pod).isEmpty());
        await().atMost(Duration.ofSeconds(10)).until(() -> reaperRecords(node.base.resolve("checkpoints")).isEmpty());
        assertThat(node.daemon.metrics().registry().scrape().stream()
                .anyMatch(m -> m.getMetadata().getName().equals("vmhandler_tap_deletions_pending"))).isTrue();
    }

    private Process daemon(List<String> mainAndArgs) throws Exception {
        List<String> argv = new ArrayList<>(List.of(FakePod.javaBin(), "-Dvmhandler.log.level=WARN", "-cp",
                System.getProperty("java.class.path")));
        argv.addAll(mainAndArgs);
        return DaemonSpawn.ready(host, argv);
    }

    @Test
    void aDaemonKilledBetweenReleaseAndTheDeletionsFinishesThemAfterItsRestart() throws Exception {
        Root.require();
        Path classpath = FakePod.readableClasspath(host);
        StandaloneDirs dirs = StandaloneDirs.create(host, "vmh-reapkill-");
        Path checkpoints = dirs.base().resolve("checkpoints");
        FakePod pod = new FakePod(host, "0-1");
        Files.writeString(dirs.vmiDir().resolve("vm.yaml"), pod.vmiWithTaps("vm-kill", StandaloneNode.NODE, 4));
        pod.sleeper(0); // the pod's pause container: the launcher that calls Release exits right after it

        Process first = daemon(List.of(HeldDeletionDaemon.class.getName(), StandaloneNode.NODE,
                dirs.vmiDir().toString(), dirs.socket().toString(), checkpoints.toString()));
        Cmd.Result prep = pod.launcher(classpath, dirs.socket(), "prepare-network");
        assertThat(prep.exit()).as(prep.err()).isZero();
        Cmd.run("ip", "-n", pod.netnsName, "link", "set", "tap0", "up").ok();
        Cmd.Result rel = pod.launcher(classpath, dirs.socket(), "release");
        assertThat(rel.exit()).as(rel.err()).isZero();
        // every deletion is held before the kernel step: the four retired taps are there, down, and checkpointed
        assertThat(named(pod, "tap")).isEmpty();
        List<String> retired = named(pod, "vmhdel-");
        assertThat(retired).hasSize(4).allSatisfy(l -> assertThat(l).doesNotContain("UP"));
        assertThat(reaperRecords(checkpoints)).singleElement().asString().contains(pod.uid);
        String record = Files.readString(checkpoints.resolve(reaperRecords(checkpoints).get(0)));
        for (String l : retired) {
            assertThat(record).contains(l.split(" ")[0]);
        }

        first.destroyForcibly();
        assertThat(first.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(named(pod, "vmhdel-")).as("SIGKILL left the retired taps").hasSize(4);

        // the real daemon, restarted on the same checkpoint directory: finds the pod's netns by its cgroup
        daemon(List.of("io.vmhandler.cli.Main", "run", "--node", StandaloneNode.NODE, "--vmi-dir",
                dirs.vmiDir().toString(), "--socket", dirs.socket().toString(), "--metrics-port", "-1",
                "--checkpoint-dir", checkpoints.toString(), "--selinux", "off"));
        await().atMost(Duration.ofSeconds(20)).until(() -> links(pod).isEmpty());
        await().atMost(Duration.ofSeconds(10)).until(() -> reaperRecords(checkpoints).isEmpty());
    }
}
