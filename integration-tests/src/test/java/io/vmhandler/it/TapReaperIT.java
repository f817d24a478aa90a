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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Release answers before the kernel has deleted the taps (docs/launcher-api.md §3.5): a PrepareNetwork of the same
 * pod right after it waits for the deletions and makes four new taps (new ifindexes, no clash); and a daemon
 * SIGKILLed between Release's answer and the deletions finishes them after its restart, from the checkpoint, before
 * the pod's next PrepareNetwork gets its taps. Real taps in a fake pod's netns, real daemon processes for the kill.
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

    private static List<String> reaperRecords(Path checkpoints) throws Exception {
        if (!Files.isDirectory(checkpoints)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(checkpoints)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("tap-reap.")).toList();
        }
    }

    /** The pod's taps as name → ifindex. */
    private static java.util.Map<String, Integer> tapIndexes(FakePod pod) {
        java.util.Map<String, Integer> out = new java.util.TreeMap<>();
        Cmd.run("ip", "-n", pod.netnsName, "-o", "link").ok().out().lines().forEach(l -> {
            String[] f = l.split(": ");
            String name = f[1].split("@")[0];
            if (name.startsWith("tap")) {
                out.put(name, Integer.parseInt(f[0].strip()));
            }
        });
        return out;
    }

    @Test
    void releaseOfAFourTapPodAnswersAndTheNextPrepareNetworkMakesFreshTapsWithoutAClash() throws Exception {
        Root.require();
        PausingTaps[] reaperTaps = new PausingTaps[1];
        StandaloneNode node = StandaloneNode.start(host, "vmh-reap-", c -> c.withMetricsPort(-1),
                d -> d.decorateReaperTaps(real -> reaperTaps[0] = new PausingTaps(real)));
        FakePod pod = new FakePod(host, "0-1");
        node.publish("vm.yaml", pod.vmiWithTaps("vm-reap", StandaloneNode.NODE, 4));
        Cmd.Result prep = pod.launcher(node.classpath, node.socket, "prepare-network");
        assertThat(prep.exit()).as(prep.err()).isZero();
        java.util.Map<String, Integer> before = tapIndexes(pod);
        assertThat(before).hasSize(4);
        Cmd.run("ip", "-n", pod.netnsName, "link", "set", "tap0", "up").ok(); // as QEMU's side would have it

        reaperTaps[0].beforeDeleteAt.arm(); // one of the four deletions is held before the kernel step
        Cmd.Result rel = pod.launcher(node.classpath, node.socket, "release");
        assertThat(rel.exit()).as(rel.err()).isZero();
        assertThat(rel.out()).contains("tap0").contains("tap1").contains("tap2").contains("tap3");
        assertThat(reaperTaps[0].beforeDeleteAt.awaitPaused(10)).isTrue();

        // the pod's PrepareNetwork, sent while a released tap still exists: it waits for the pending deletion (let
        // go 3 s after the call was started, within the daemon's 5 s wait), then makes four new taps
        CompletableFuture<Cmd.Result> pending = CompletableFuture.supplyAsync(
                () -> pod.launcher(node.classpath, node.socket, "prepare-network", "--json"));
        Thread.sleep(3000);
        assertThat(tapIndexes(pod)).as("the held deletion's tap is still there").hasSize(1);
        reaperTaps[0].beforeDeleteAt.release();
        Cmd.Result again = pending.get(60, TimeUnit.SECONDS);
        assertThat(again.exit()).as(again.err()).isZero();
        assertThat(again.out().split("\"created\":true", -1)).hasSize(5);
        java.util.Map<String, Integer> after = tapIndexes(pod);
        assertThat(after.keySet()).isEqualTo(before.keySet());
        assertThat(after.values()).doesNotContainAnyElementsOf(before.values());
        assertThat(node.daemon.metrics().registry().scrape().stream()
                .anyMatch(m -> m.getMetadata().getName().equals("vmhandler_tap_deletions_pending"))).isTrue();

        Cmd.Result rel2 = pod.launcher(node.classpath, node.socket, "release");
        assertThat(rel2.exit()).as(rel2.err()).isZero();
        await().atMost(Duration.ofSeconds(10)).until(() -> links(pod).isEmpty());
        await().atMost(Duration.ofSeconds(10)).until(() -> reaperRecords(node.base.resolve("checkpoints")).isEmpty());
        // each call above replaced the VMI's record by an exchange; the old content's unlink, run after each reply,
        // leaves no temp file behind (CheckpointDir)
        await().atMost(Duration.ofSeconds(5)).until(() -> tempFiles(node.base.resolve("checkpoints")).isEmpty());
        try (Stream<Path> s = Files.list(node.base.resolve("checkpoints"))) {
            assertThat(s.map(p -> p.getFileName().toString())).as("the VMI's record").hasSize(1);
        }
    }

    private static List<String> tempFiles(Path checkpoints) throws Exception {
        try (Stream<Path> s = Files.list(checkpoints)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".tmp-")).toList();
        }
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
        // every deletion is held before the kernel step: the four taps are there and checkpointed by ifindex
        java.util.Map<String, Integer> released = tapIndexes(pod);
        assertThat(released).hasSize(4);
        assertThat(reaperRecords(checkpoints)).singleElement().asString().contains(pod.uid);
        String record = Files.readString(checkpoints.resolve(reaperRecords(checkpoints).get(0)));
        released.forEach((name, index) -> assertThat(record).contains("tap." + index).contains(name));

        first.destroyForcibly();
        assertThat(first.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(tapIndexes(pod)).as("SIGKILL left the released taps").isEqualTo(released);

        // the real daemon, restarted on the same checkpoint directory: finds the pod's netns by its cgroup
        daemon(List.of("io.vmhandler.cli.Main", "run", "--node", StandaloneNode.NODE, "--vmi-dir",
                dirs.vmiDir().toString(), "--socket", dirs.socket().toString(), "--metrics-port", "-1",
                "--checkpoint-dir", checkpoints.toString(), "--selinux", "off"));
        // the restarted daemon counted the recorded taps as pending before it served: a PrepareNetwork now gets
        // four new taps, never the old ones adopted
        Cmd.Result again = pod.launcher(classpath, dirs.socket(), "prepare-network", "--json");
        assertThat(again.exit()).as(again.err()).isZero();
        assertThat(again.out().split("\"created\":true", -1)).hasSize(5);
        assertThat(tapIndexes(pod).values()).hasSize(4).doesNotContainAnyElementsOf(released.values());
        await().atMost(Duration.ofSeconds(10)).until(() -> reaperRecords(checkpoints).isEmpty());
        Cmd.Result rel2 = pod.launcher(classpath, dirs.socket(), "release");
        assertThat(rel2.exit()).as(rel2.err()).isZero();
        await().atMost(Duration.ofSeconds(20)).until(() -> links(pod).isEmpty());
        await().atMost(Duration.ofSeconds(10)).until(() -> reaperRecords(checkpoints).isEmpty());
    }
}
