package io.vmhandler.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vmhandler.cgroups.QosClass;
import io.vmhandler.cgroups.testing.KubeletCgroups;
import io.vmhandler.core.app.Daemon;
import io.vmhandler.core.app.DaemonConfig;
import io.vmhandler.testing.Cmd;
import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.Root;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Symlink and path attacks (issue 8 item 3): a launcher that controls paths, names and /proc entries
 * tries to make the daemon act on the host or on another pod. Every case uses real processes, real
 * cgroups and real netns, asserts the refusal (or that the effect stays in the caller's pod) and
 * compares the host object before and after.
 */
class PathAttacksIT {
    @RegisterExtension
    final HostCleanup host = new HostCleanup();

    private static final HostCleanup shared = new HostCleanup();
    private static StandaloneNode node;

    @BeforeAll
    static void startDaemon() throws Exception {
        Root.require();
        node = StandaloneNode.start(shared, "vmh-attack-", c -> c.withMetricsPort(-1));
    }

    @AfterAll
    static void stopDaemon() {
        shared.cleanupNow();
    }

    private void publish(String file, String yaml) throws Exception {
        node.publish(file, yaml);
        host.add(() -> node.vmiDir.resolve(file).toFile().delete());
    }

    /** A second daemon on {@code sock}; it must refuse to start. Nothing may appear at {@code target}. */
    private static void assertDaemonRefuses(Path sock, String why) {
        assertThatThrownBy(() -> {
            Daemon d = new Daemon(DaemonConfig.standalone("node1", node.vmiDir, sock, node.base.resolve("ckpt2"))
                    .withMetricsPort(-1)).start();
            d.close();
        }).hasStackTraceContaining(why);
    }

    private static String stat(Path p) {
        return Cmd.run("stat", "-c", "%F %a %u:%g %s %i %Y", p.toString()).ok().out();
    }

    private static List<String> listing(Path dir) throws Exception {
        try (var s = Files.list(dir)) {
            return s.map(Path::toString).sorted().toList();
        }
    }

    @Test
    void aSocketDirectoryReplacedByASymlinkToAHostDirectoryIsRefusedAndNothingIsCreatedThere() throws Exception {
        Path hostDir = Files.createDirectories(node.base.resolve("host-etc-" + host.suffix()));
        Files.writeString(hostDir.resolve("passwd"), "root:x:0:0\n");
        List<String> before = listing(hostDir);
        String statBefore = stat(hostDir);
        Path link = node.base.resolve("run-link-" + host.suffix());
        Files.createSymbolicLink(link, hostDir);

        assertDaemonRefuses(link.resolve("launcher.sock"), "is a symbolic link");

        assertThat(listing(hostDir)).isEqualTo(before);
        assertThat(stat(hostDir)).isEqualTo(statBefore);
        assertThat(Files.isSymbolicLink(link)).isTrue();
    }

    @Test
    void aSocketPathReplacedByASymlinkBeforeARestartIsRefusedAndTheTargetIsUnchanged() throws Exception {
        Path runDir = Files.createDirectories(node.base.resolve("run2-" + host.suffix()));
        Files.setPosixFilePermissions(runDir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path sock = runDir.resolve("launcher.sock");
        // first life: a daemon publishes its socket and stops; then the path becomes a symlink to a host file
        new Daemon(DaemonConfig.standalone("node1", node.vmiDir, sock, node.base.resolve("ckpt3")).withMetricsPort(-1)).start().close();
        Path hostFile = Files.writeString(node.base.resolve("host-shadow-" + host.suffix()), "secret\n");
        Files.setPosixFilePermissions(hostFile, PosixFilePermissions.fromString("rw-------"));
        String statBefore = stat(hostFile);
        Files.deleteIfExists(sock);
        Files.createSymbolicLink(sock, hostFile);

        assertDaemonRefuses(sock, "is a symbolic link, not a socket");

        assertThat(stat(hostFile)).isEqualTo(statBefore);
        assertThat(Files.readString(hostFile)).isEqualTo("secret\n");
        assertThat(Files.isSymbolicLink(sock)).isTrue();
        try (var s = Files.list(runDir)) {
            assertThat(s.filter(p -> p.getFileName().toString().endsWith(".sock.tmp")).toList()).isEmpty();
        }
    }

    /** A process that names its only thread like a KVM vCPU thread ("CPU 0/KVM"), with the given affinity. */
    private Process fakeVcpuProcess(List<String> prefix, String cpus) {
        List<String> argv = new ArrayList<>(prefix);
        argv.addAll(List.of("taskset", "-c", cpus, "/bin/sh", "-c",
                "printf 'CPU 0/KVM' > /proc/self/comm; while :; do sleep 1; done"));
        Process p = host.process(new ProcessBuilder(argv));
        waitFor(() -> comm(p.pid()).equals("CPU 0/KVM"));
        return p;
    }

    @Test
    void threadsRenamedToVcpuNamesDoNotLetAPodPinAnotherPodOrTheHost() throws Exception {
        FakePod a = new FakePod(host, "0-1");
        FakePod b = new FakePod(host, "0-1");
        publish("ra.yaml", a.vmi("vm-ra", "node1", ""));
        publish("rb.yaml", b.vmi("vm-rb", "node1", ""));
        Process inB = fakeVcpuProcess(b.enter(107, 107), "1");
        Process onHost = fakeVcpuProcess(List.of(), "1");
        Process ownFake = fakeVcpuProcess(a.enter(107, 107), "1");
        String affB = affinities(inB.pid());
        String affHost = affinities(onHost.pid());

        for (long victim : new long[] {inB.pid(), onHost.pid()}) {
            Cmd.Result r = a.launcher(node.classpath, node.socket, "pin-vcpus", "--pid", Long.toString(victim));
            assertThat(r.exit()).isEqualTo(1);
            assertThat(r.err()).isEqualTo("PERMISSION_DENIED: pid " + victim + " is not a process in the caller's pod\n");
        }
        assertThat(affinities(inB.pid())).isEqualTo(affB);
        assertThat(affinities(onHost.pid())).isEqualTo(affHost);

        // its own fake QEMU: whatever the pinner makes of it, only that process's threads may change
        Cmd.Result own = a.launcher(node.classpath, node.socket, "pin-vcpus", "--pid", Long.toString(ownFake.pid()), "--json");
        assertThat(own.err()).doesNotContain("PERMISSION_DENIED");
        for (String aff : affinities(ownFake.pid()).split("\n")) {
            assertThat(aff).as(own.out() + own.err()).matches(".*: [01,-]+$");
        }
        assertThat(affinities(inB.pid())).isEqualTo(affB);
        assertThat(affinities(onHost.pid())).isEqualTo(affHost);
    }

    @Test
    void aCallerInAChildPidNamespaceOfItsPodCannotNameHostPids() throws Exception {
        FakePod a = new FakePod(host, "0-1");
        FakePod b = new FakePod(host, "0-1");
        publish("na.yaml", a.vmi("vm-na", "node1", ""));
        Process inB = b.sleeper(0);
        Process onHost = host.process(new ProcessBuilder("sleep", "600"));
        String limitsB = limits(inB.pid());
        String limitsHost = limits(onHost.pid());
        String limitsInit = limits(1);

        for (long victim : new long[] {inB.pid(), onHost.pid()}) {
            Cmd.Result r = launcherInChildPidNs(a, "set-memlock", "--pid", Long.toString(victim));
            assertThat(r.exit()).as(r.err()).isEqualTo(1);
            assertThat(r.err()).isEqualTo("PERMISSION_DENIED: pid " + victim + " is not a process in the caller's pod\n");
        }
        // "1" in the child namespace is the caller itself (in its pod), never the host's init
        Cmd.Result self = launcherInChildPidNs(a, "set-memlock", "--pid", "1", "--json");
        assertThat(self.exit()).as(self.err()).isZero();
        assertThat(self.out()).contains("\"pid\":1");

        assertThat(limits(inB.pid())).isEqualTo(limitsB);
        assertThat(limits(onHost.pid())).isEqualTo(limitsHost);
        assertThat(limits(1)).isEqualTo(limitsInit);
    }

    @Test
    void aProcessOfThePodInAChildPidNamespaceIsNotNamedByItsHostNumber() throws Exception {
        FakePod a = new FakePod(host, "0-1");
        publish("ca.yaml", a.vmi("vm-ca", "node1", ""));
        // root of the pod creates a child pid namespace; its init is in the pod but not in the caller's pid ns
        List<String> argv = a.enter(0, 0);
        argv.set(2, "echo $$ > \"$1\"; exec nsenter --net=\"$2\" -- unshare --pid --fork -- sleep 600");
        Process child = host.process(new ProcessBuilder(argv));
        long sleepPid = waitForChild(child.pid());
        assertThat(Files.readString(Path.of("/proc/" + sleepPid + "/status")))
                .as("init of a child pid namespace").containsPattern("NSpid:\\s+" + sleepPid + "\\s+1\\n");
        String lim = limits(sleepPid);

        Cmd.Result r = a.launcher(node.classpath, node.socket, "set-memlock", "--pid", Long.toString(sleepPid));
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).isEqualTo("PERMISSION_DENIED: pid " + sleepPid + " is not a process in the caller's pod\n");
        assertThat(limits(sleepPid)).isEqualTo(lim);
    }

    @Test
    void theTapLandsInTheCallersNetnsWhateverItsCwdAndRootPathsContain() throws Exception {
        FakePod a = new FakePod(host, "0-1");
        publish("ta.yaml", a.vmi("vm-ta", "node1", ""));
        // a working directory full of symlinks named like the paths a netns lookup could use
        Path trap = Files.createDirectories(node.base.resolve("trap-" + host.suffix()));
        for (String rel : List.of("proc/self/ns", "proc/1/ns", "var/run/netns", "run/netns")) {
            Path d = Files.createDirectories(trap.resolve(rel));
            Files.createSymbolicLink(d.resolve(rel.contains("netns") ? a.netnsName : "net"), Path.of("/proc/1/ns/net"));
        }
        Files.createSymbolicLink(trap.resolve("net"), Path.of("/proc/1/ns/net"));
        Files.createSymbolicLink(trap.resolve(a.netnsName), Path.of("/proc/1/ns/net"));
        Cmd.run("chown", "-R", "107:107", trap.toString()).ok();
        Cmd.run("chmod", "755", node.base.toString()).ok();
        String hostLinks = Cmd.run("ip", "-o", "link").ok().out();

        List<String> argv = a.enter(107, 107);
        argv.set(2, "cd \"$3\" && " + argv.get(2).replace("shift 2", "shift 3"));
        argv.add(trap.toString());
        argv.addAll(List.of(FakePod.javaBin(), "-Dvmhandler.log.level=WARN", "-cp", node.classpath + "/*",
                "io.vmhandler.cli.Main", "launcher", "--socket", node.socket.toString(), "prepare-network", "--json"));
        Cmd.Result r = Cmd.run(argv);
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out()).contains("\"name\":\"tap0\"");
        assertThat(Cmd.run("ip", "-n", a.netnsName, "link").ok().out()).contains("tap0");
        assertThat(Cmd.run("ip", "-o", "link").ok().out()).isEqualTo(hostLinks);
        assertThat(a.launcher(node.classpath, node.socket, "release").exit()).isZero();
    }

    @Test
    void aCallerInItsOwnUserAndMountNamespaceCannotRedirectTheTapThroughItsRootPaths() throws Exception {
        FakePod a = new FakePod(host, "0-1");
        publish("mn.yaml", a.vmi("vm-mn", "node1", ""));
        String hostLinks = Cmd.run("ip", "-o", "link").ok().out();
        List<String> hostNetns = listing(Path.of("/run/netns"));
        // unprivileged, the launcher makes a user namespace (it is "root" in it) and a mount namespace, and
        // rewrites every path a netns lookup through /proc/PID/root could take: /run/netns/<its pod's netns>
        // now points at the host's netns (/var/run is a link to /run). The daemon must not care:
        // it enters the caller's netns through its pidfd, and reads /proc in its own mount namespace.
        String rewrite = "mount -t tmpfs none /run && mkdir -p /run/netns && ln -s /proc/1/ns/net /run/netns/"
                + a.netnsName + " && [ \"$(readlink /run/netns/" + a.netnsName
                + ")\" = /proc/1/ns/net ] && exec \"$@\"";
        List<String> argv = a.enter(107, 107);
        argv.addAll(List.of("unshare", "--user", "--map-root-user", "--mount", "--", "/bin/sh", "-c", rewrite, "sh",
                FakePod.javaBin(), "-Dvmhandler.log.level=WARN", "-cp", node.classpath + "/*",
                "io.vmhandler.cli.Main", "launcher", "--socket", node.socket.toString(), "prepare-network", "--json"));
        Cmd.Result r = Cmd.run(argv);
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out()).contains("\"name\":\"tap0\"");
        // the tap is the pod's, owned by uid 107 as the kernel sees the caller (not uid 0 of its user namespace)
        assertThat(Cmd.run("ip", "-n", a.netnsName, "-d", "link", "show", "tap0").ok().out())
                .containsPattern("user 107 group (107|kvm) ");
        assertThat(Cmd.run("ip", "-o", "link").ok().out()).isEqualTo(hostLinks);
        assertThat(listing(Path.of("/run/netns"))).isEqualTo(hostNetns);
        assertThat(a.launcher(node.classpath, node.socket, "release").exit()).isZero();
    }

    @Test
    void aForgedPodPathNestedInsideAnotherPodsCgroupIsNotThatPod() throws Exception {
        FakePod outer = new FakePod(host, "0-1");
        FakePod victim = new FakePod(host, "0-1");
        publish("fv.yaml", victim.vmi("vm-fv", "node1", ""));
        // root (standing in for a container allowed to make sub-cgroups) nests victim's pod path under outer's
        String forged = outer.cpuset.toString().substring(KubeletCgroups.ROOT.resolve("cpuset").toString().length())
                + KubeletCgroups.cgroupfs("", QosClass.BURSTABLE, victim.uid, KubeletCgroups.newContainerId());
        Path leaf = KubeletCgroups.create(host, "cpuset", forged, "0-1");
        assertThat(Files.isDirectory(leaf, LinkOption.NOFOLLOW_LINKS)).isTrue();
        String victimLinks = Cmd.run("ip", "-n", victim.netnsName, "link").ok().out();

        List<String> argv = outer.enter(107, 107);
        argv.set(4, leaf.resolve("cgroup.procs").toString());
        List<String> probe = new ArrayList<>(argv);
        probe.addAll(List.of("cat", "/proc/self/cgroup"));
        assertThat(Cmd.run(probe).ok().out()).as("the caller really sits in the forged path")
                .containsPattern("cpuset:/kubepods/burstable/pod" + outer.uid + "/\\w+/kubepods/burstable/pod" + victim.uid + "/");
        argv.addAll(List.of(FakePod.javaBin(), "-Dvmhandler.log.level=WARN", "-cp", node.classpath + "/*",
                "io.vmhandler.cli.Main", "launcher", "--socket", node.socket.toString(), "prepare-network"));
        Cmd.Result r = Cmd.run(argv);
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).startsWith("PERMISSION_DENIED: pod " + outer.uid + " is not the active launcher pod");
        assertThat(Cmd.run("ip", "-n", victim.netnsName, "link").ok().out()).isEqualTo(victimLinks);
        assertThat(Cmd.run("ip", "-n", outer.netnsName, "link").ok().out()).doesNotContain("tap0");
    }

    private Cmd.Result launcherInChildPidNs(FakePod pod, String... args) {
        List<String> argv = pod.enter(107, 107);
        // the pod's root makes the child pid namespace, then drops to uid 107 inside it
        argv.set(2, argv.get(2).replace("exec nsenter --net=\"$n\" -- ", "exec nsenter --net=\"$n\" -- unshare --pid --fork -- "));
        argv.addAll(List.of(FakePod.javaBin(), "-Dvmhandler.log.level=WARN", "-cp", node.classpath + "/*",
                "io.vmhandler.cli.Main", "launcher", "--socket", node.socket.toString()));
        argv.addAll(List.of(args));
        return Cmd.run(argv);
    }

    private static long waitForChild(long pid) {
        long[] found = new long[1];
        waitFor(() -> {
            var kids = ProcessHandle.of(pid).stream().flatMap(ProcessHandle::descendants)
                    .filter(h -> h.info().command().orElse("").endsWith("sleep")).toList();
            if (kids.isEmpty()) {
                return false;
            }
            found[0] = kids.get(0).pid();
            return true;
        });
        return found[0];
    }

    private static String limits(long pid) throws Exception {
        return Files.readString(Path.of("/proc/" + pid + "/limits"));
    }

    private static String comm(long pid) {
        try {
            return Files.readString(Path.of("/proc/" + pid + "/comm")).trim();
        } catch (Exception e) {
            return "";
        }
    }

    private static String affinities(long pid) throws Exception {
        StringBuilder sb = new StringBuilder();
        try (var s = Files.list(Path.of("/proc/" + pid + "/task"))) {
            for (Path t : s.sorted().toList()) {
                sb.append(Cmd.run("taskset", "-pc", t.getFileName().toString()).ok().out().trim()).append('\n');
            }
        }
        return sb.toString();
    }

    private static void waitFor(java.util.function.BooleanSupplier c) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!c.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("condition not reached in 20 s");
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }
}
