package io.vmhandler.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.vmhandler.cli.demo.EmbeddedApiServer;
import io.vmhandler.testing.Cmd;
import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.Root;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The daemon as a real `vmhandler run` process, killed with SIGKILL while launcher calls are in flight,
 * then restarted on the same socket path and checkpoint directory: it must replace its stale socket,
 * converge, and leave exactly one tap per pod (no duplicate, no leaked half-made tap). The API server is
 * fabric8's CRUD mock (no real API server can run here).
 */
class DaemonRestartIT {
    @RegisterExtension
    final HostCleanup host = new HostCleanup();

    private Process daemon(EmbeddedApiServer api, Path socket, Path ckpt) throws Exception {
        List<String> argv = List.of(FakePod.javaBin(), "-Dvmhandler.log.level=WARN", "-cp",
                System.getProperty("java.class.path"), "io.vmhandler.cli.Main", "run", "--node", "node1",
                "--master", api.url(), "--socket", socket.toString(), "--metrics-port", "-1", "--checkpoint-dir",
                ckpt.toString(), "--selinux", "off");
        return DaemonSpawn.ready(host, argv);
    }

    private static long taps(FakePod pod) {
        return Cmd.run("ip", "-n", pod.netnsName, "-o", "link").ok().out().lines().filter(l -> l.contains(" tap")).count();
    }

    @Test
    void killedWithSigkillMidWorkAndRestartedItConvergesWithoutDuplicateOrLeakedTaps() throws Exception {
        Root.require();
        Path classpath = FakePod.readableClasspath(host);
        Path base = Files.createTempDirectory("vmh-restart-");
        host.add(() -> Cmd.run("rm", "-rf", base.toString()));
        Path run = Files.createDirectories(base.resolve("run"));
        Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setPosixFilePermissions(run, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path socket = run.resolve("launcher.sock");
        Path ckpt = base.resolve("ckpt");
        EmbeddedApiServer api = EmbeddedApiServer.start();
        host.add(api::close);

        FakePod a = new FakePod(host, "0-1");
        FakePod b = new FakePod(host, "0-1");
        api.createScheduledVmi(Files.writeString(base.resolve("a.yaml"), a.vmi("vm-a", "node1", "")), "node1", a.uid);
        api.createScheduledVmi(Files.writeString(base.resolve("b.yaml"), b.vmi("vm-b", "node1", "")), "node1", b.uid);

        Process first = daemon(api, socket, ckpt);
        assertThat(a.launcher(classpath, socket, "prepare-network").exit()).isZero();
        Process libvirtd = a.sleeper(0);
        assertThat(a.launcher(classpath, socket, "set-memlock", "--pid", Long.toString(libvirtd.pid())).exit()).isZero();

        // pod B's call is in flight when the daemon dies
        CompletableFuture<Cmd.Result> inFlight = CompletableFuture.supplyAsync(() ->
                b.launcher(classpath, socket, "prepare-network"));
        Thread.sleep(700);
        first.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        inFlight.get(60, TimeUnit.SECONDS);
        assertThat(socket).exists(); // SIGKILL leaves the socket file behind
        assertThat(taps(b)).isLessThanOrEqualTo(1);

        Process second = daemon(api, socket, ckpt);
        assertThat(second.isAlive()).isTrue();
        Cmd.Result ra = a.launcher(classpath, socket, "prepare-network", "--json");
        Cmd.Result rb = b.launcher(classpath, socket, "prepare-network", "--json");
        assertThat(ra.exit()).as(ra.err()).isZero();
        assertThat(rb.exit()).as(rb.err()).isZero();
        assertThat(ra.out()).contains("\"created\":false"); // adopted, not made twice
        assertThat(taps(a)).isEqualTo(1);
        assertThat(taps(b)).isEqualTo(1);
        assertThat(Cmd.run("ip", "-n", b.netnsName, "-d", "link", "show", "tap0").ok().out())
                .contains("persist on").contains("user 107").contains("group 107");
        // the checkpoint written before the kill is still what the new daemon knows
        await().atMost(Duration.ofSeconds(5)).until(() -> {
            try (var f = Files.list(ckpt)) {
                return f.anyMatch(p -> {
                    try {
                        return Files.readString(p).contains("memlockPid");
                    } catch (Exception e) {
                        return false;
                    }
                });
            }
        });
    }
}
