package io.vmhandler.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.testing.Cmd;
import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.Root;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The launcher API end to end over the real unix socket: the daemon in this JVM (standalone mode, VMI
 * files), callers as separate processes inside fake pods (real netns + kubelet-named cpuset cgroup,
 * uid 107, no capabilities). Every effect is checked on the host, not only in the reply.
 */
class LauncherApiIT {
    @RegisterExtension
    final HostCleanup host = new HostCleanup();

    private static final HostCleanup shared = new HostCleanup();
    private static StandaloneNode node;

    @BeforeAll
    static void startDaemon() throws Exception {
        Root.require();
        node = StandaloneNode.start(shared, "vmh-api-", c -> c);
    }

    @AfterAll
    static void stopDaemon() {
        shared.cleanupNow();
    }

    private void publish(String file, String yaml) throws Exception {
        node.publish(file, yaml);
    }

    private String ipLink(FakePod pod) {
        return Cmd.run("ip", "-n", pod.netnsName, "-d", "link").ok().out();
    }

    @Test
    void aCallerInPodAGetsItsTapsInItsOwnNetnsOwnedByItsUid() throws Exception {
        FakePod a = new FakePod(host, "0-1");
        FakePod b = new FakePod(host, "0-1");
        publish("a.yaml", a.vmi("vm-a", "node1", ""));
        host.add(() -> node.vmiDir.resolve("a.yaml").toFile().delete());

        Cmd.Result r = a.launcher(node.classpath, node.socket, "prepare-network", "--json");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out()).contains("\"name\":\"tap0\"").contains("\"queues\":2").contains("\"ownerUid\":107")
                .contains("\"created\":true");
        assertThat(ipLink(a)).contains("tap0").contains("multi_queue").contains("user 107").contains("group 107");
        assertThat(ipLink(b)).doesNotContain("tap0");
        assertThat(Cmd.run("ip", "-o", "link").ok().out()).doesNotContain(" tap0:");

        // idempotent: a second call adopts
        assertThat(a.launcher(node.classpath, node.socket, "prepare-network", "--json").out()).contains("\"created\":false");

        // pod B has no VMI: denied, and nothing appears in its netns
        Cmd.Result denied = b.launcher(node.classpath, node.socket, "prepare-network");
        assertThat(denied.exit()).isEqualTo(1);
        assertThat(denied.err()).startsWith("PERMISSION_DENIED: pod " + b.uid + " is not the active launcher pod");
        assertThat(ipLink(b)).doesNotContain("tap0");

        Cmd.Result rel = a.launcher(node.classpath, node.socket, "release");
        assertThat(rel.exit()).as(rel.err()).isZero();
        assertThat(rel.out()).contains("removed taps: tap0");
        // Release hands the tap to the background deleter (docs/launcher-api.md §3.5): gone shortly after
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
                .until(() -> !ipLink(a).contains("tap0"));
    }

    @Test
    void concurrentCallersInManyPodsAreAllServed() throws Exception {
        int n = 6;
        java.util.List<FakePod> pods = new java.util.ArrayList<>();
        for (int i = 0; i < n; i++) {
            FakePod p = new FakePod(host, "0-1");
            pods.add(p);
            String file = "c" + i + ".yaml";
            publish(file, p.vmi("vm-c" + i, "node1", ""));
            host.add(() -> node.vmiDir.resolve(file).toFile().delete());
        }
        var pool = java.util.concurrent.Executors.newFixedThreadPool(n);
        try {
            var results = pool.invokeAll(pods.stream()
                    .map(p -> (java.util.concurrent.Callable<Cmd.Result>) () -> p.launcher(node.classpath, node.socket,
                            "prepare-network", "--json")).toList());
            for (int i = 0; i < n; i++) {
                Cmd.Result r = results.get(i).get();
                assertThat(r.exit()).as(r.err()).isZero();
                assertThat(ipLink(pods.get(i))).contains("tap0").contains("user 107");
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aCallerInNoPodIsDenied() throws Exception {
        Cmd.Result r = Cmd.run(FakePod.javaBin(), "-Dvmhandler.log.level=WARN", "-cp", node.classpath + "/*",
                "io.vmhandler.cli.Main", "launcher", "--socket", node.socket.toString(), "prepare-network");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).startsWith("PERMISSION_DENIED: the calling process").contains("is not in a Kubernetes pod");
    }

    @Test
    void launcherCallsSucceedOnlyWhileTheVmiIsOnThisNode() throws Exception {
        FakePod a = new FakePod(host, "0-1");
        publish("moving.yaml", a.vmi("vm-m", "node1", ""));
        host.add(() -> node.vmiDir.resolve("moving.yaml").toFile().delete());
        assertThat(a.launcher(node.classpath, node.socket, "prepare-network").exit()).isZero();
        publish("moving.yaml", a.vmi("vm-m", "node2", "") + "\n");
        Files.setLastModifiedTime(node.vmiDir.resolve("moving.yaml"),
                java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() + 10_000));
        node.daemon.vmiFiles().scan();
        Cmd.Result r = a.launcher(node.classpath, node.socket, "release");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).startsWith("PERMISSION_DENIED");
    }

    @Test
    void aPidOfAnotherPodOrOfTheHostIsDeniedAndUntouched() throws Exception {
        FakePod a = new FakePod(host, "0-1");
        FakePod b = new FakePod(host, "0-1");
        publish("pa.yaml", a.vmi("vm-pa", "node1", ""));
        publish("pb.yaml", b.vmi("vm-pb", "node1", ""));
        host.add(() -> node.vmiDir.resolve("pa.yaml").toFile().delete());
        host.add(() -> node.vmiDir.resolve("pb.yaml").toFile().delete());
        Process inB = b.sleeper(0);
        Process onHost = host.process(new ProcessBuilder("sleep", "600"));
        String limitsB = Files.readString(Path.of("/proc/" + inB.pid() + "/limits"));
        String affinityHost = Cmd.run("taskset", "-p", Long.toString(onHost.pid())).ok().out();

        // pod A's processes run in the host pid namespace here, so B's and the host's pids are visible numbers
        for (long victim : new long[] {inB.pid(), onHost.pid()}) {
            Cmd.Result m = a.launcher(node.classpath, node.socket, "set-memlock", "--pid", Long.toString(victim));
            assertThat(m.exit()).isEqualTo(1);
            assertThat(m.err()).isEqualTo("PERMISSION_DENIED: pid " + victim + " is not a process in the caller's pod\n");
            Cmd.Result p = a.launcher(node.classpath, node.socket, "pin-vcpus", "--pid", Long.toString(victim));
            assertThat(p.err()).startsWith("PERMISSION_DENIED");
        }
        assertThat(Files.readString(Path.of("/proc/" + inB.pid() + "/limits"))).isEqualTo(limitsB);
        assertThat(Cmd.run("taskset", "-p", Long.toString(onHost.pid())).ok().out()).isEqualTo(affinityHost);
    }

    @Test
    void setMemlockComputesFromTheVmiAndTellsWhyARaiseIsRefused() throws Exception {
        FakePod a = new FakePod(host, "0-1");
        publish("ml.yaml", a.vmi("vm-ml", "node1", ""));
        host.add(() -> node.vmiDir.resolve("ml.yaml").toFile().delete());
        Process libvirtd = a.sleeper(0);
        Cmd.Result none = a.launcher(node.classpath, node.socket, "set-memlock", "--pid", Long.toString(libvirtd.pid()),
                "--libvirt-version", "9.0.0", "--json");
        assertThat(none.exit()).as(none.err()).isZero();
        assertThat(none.out()).contains("\"applied\":false").contains("\"branch\":\"MEMLOCK_BRANCH_NONE\"")
                .contains("\"libvirtVersion\":\"9.0.0\"");

        // a GPU is a VFIO hostdev: 1 x 128 MiB + 1 GiB, far above this machine's 8 MiB hard limit
        publish("ml.yaml", a.vmi("vm-ml", "node1", "      gpus: [{name: g, deviceName: nvidia.com/GP}]") + "\n");
        Files.setLastModifiedTime(node.vmiDir.resolve("ml.yaml"),
                java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() + 10_000));
        node.daemon.vmiFiles().scan();
        Cmd.Result refused = a.launcher(node.classpath, node.socket, "set-memlock", "--pid", Long.toString(libvirtd.pid()));
        org.junit.jupiter.api.Assumptions.assumeFalse(refused.exit() == 0, "this node has CAP_SYS_RESOURCE");
        assertThat(refused.err()).startsWith("FAILED_PRECONDITION: the node refused the memlock limit")
                .contains("CAP_SYS_RESOURCE");
        assertThat(Files.readString(Path.of("/proc/" + libvirtd.pid() + "/limits")))
                .containsPattern("Max locked memory\\s+8388608\\s+8388608");
    }

    @Test
    void pinVcpusPinsQemuInThePodToThePodCpuset() throws Exception {
        Root.requireTool(io.vmhandler.cli.demo.QemuProcess.QEMU.toString());
        FakePod a = new FakePod(host, "0-1");
        publish("pin.yaml", a.vmi("vm-pin", "node1", ""));
        host.add(() -> node.vmiDir.resolve("pin.yaml").toFile().delete());
        var qemu = io.vmhandler.cli.demo.QemuProcess.startInCgroups(java.util.List.of(a.cpuset), 107, 107, 2, "vm-pin");
        host.add(qemu::close);
        QemuProbes.awaitVcpuThreads(qemu.pid(), 2);
        Cmd.Result r = a.launcher(node.classpath, node.socket, "pin-vcpus", "--pid", Long.toString(qemu.pid()), "--json");
        assertThat(r.exit()).as(r.err() + r.out()).isZero();
        assertThat(r.out()).contains("\"vcpu\":0").contains("\"vcpu\":1");
        for (String tid : QemuProbes.vcpuTids(qemu.pid())) {
            String aff = Cmd.run("taskset", "-pc", tid).ok().out().trim();
            assertThat(aff).matches(".*: [01]$");
        }
    }

    @Test
    void pinVcpusOnAPodProcessThatIsNotQemuIsRefusedBeforeAnythingChanges() throws Exception {
        FakePod a = new FakePod(host, "0-1");
        publish("notqemu.yaml", a.vmi("vm-nq", "node1", ""));
        host.add(() -> node.vmiDir.resolve("notqemu.yaml").toFile().delete());
        Process sleeper = a.sleeper(107);
        String affinity = Cmd.run("taskset", "-p", Long.toString(sleeper.pid())).ok().out();
        Cmd.Result r = a.launcher(node.classpath, node.socket, "pin-vcpus", "--pid", Long.toString(sleeper.pid()));
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).startsWith("INVALID_ARGUMENT: qemu_pid " + sleeper.pid() + " has no vCPU threads");
        assertThat(a.cpuset.resolve("housekeeping")).doesNotExist();
        assertThat(Cmd.run("taskset", "-p", Long.toString(sleeper.pid())).ok().out()).isEqualTo(affinity);
    }
}
