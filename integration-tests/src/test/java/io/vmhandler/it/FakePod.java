package io.vmhandler.it;

import io.vmhandler.cgroups.QosClass;
import io.vmhandler.cgroups.testing.KubeletCgroups;
import io.vmhandler.testing.Cmd;
import io.vmhandler.testing.HostCleanup;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * A launcher "pod" made of real kernel objects: its own network namespace and a cpuset cgroup named the
 * way kubelet names a pod's (cgroupfs driver), with a pod UID. Processes started through it are born in
 * both, as a container's are, and run as uid/gid 107 with no capabilities.
 */
final class FakePod {
    final String uid = KubeletCgroups.newPodUid();
    final String netnsPath;
    final String netnsName;
    final Path cpuset;
    private final HostCleanup host;

    FakePod(HostCleanup host, String cpus) throws IOException {
        this.host = host;
        this.netnsPath = host.netns("vmh-pod");
        this.netnsName = Path.of(netnsPath).getFileName().toString();
        this.cpuset = KubeletCgroups.create(host, "cpuset",
                KubeletCgroups.cgroupfs("", QosClass.BURSTABLE, uid, KubeletCgroups.newContainerId()), cpus);
    }

    /** The argv prefix that puts a command into this pod: cgroup first, then netns, then uid 107. */
    List<String> enter(long uid, long gid) {
        return born("setpriv --reuid " + uid + " --regid " + gid
                + " --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs --");
    }

    /** The same for a root process that keeps root's capabilities (a launcher pod's libvirtd). */
    List<String> enterAsRoot() {
        return born("");
    }

    private List<String> born(String wrapper) {
        return new ArrayList<>(List.of("/bin/sh", "-c",
                "echo $$ > \"$1\"; n=\"$2\"; shift 2; exec nsenter --net=\"$n\" -- " + wrapper + " \"$@\"",
                "sh", cpuset.resolve("cgroup.procs").toString(), netnsPath));
    }

    /** Runs {@code vmhandler launcher --socket S args...} as uid 107 inside the pod and waits. */
    Cmd.Result launcher(Path classpath, Path socket, String... args) {
        return Cmd.run(launcherArgv(classpath, socket, args));
    }

    /**
     * Starts the same launcher call without waiting, registered for a forced kill. Every step of
     * {@link #enter} execs, so the returned process is the client JVM itself: the pid the daemon
     * sees through SO_PEERCRED.
     */
    Process startLauncher(Path classpath, Path socket, String... args) {
        return host.process(new ProcessBuilder(launcherArgv(classpath, socket, args))
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD));
    }

    private List<String> launcherArgv(Path classpath, Path socket, String... args) {
        List<String> all = new ArrayList<>(List.of("launcher", "--socket", socket.toString()));
        all.addAll(List.of(args));
        return javaArgv(classpath, "io.vmhandler.cli.Main", all);
    }

    /** Runs {@code main} of the test classpath as uid 107 inside the pod (one JVM: one SO_PEERCRED pid) and waits. */
    Cmd.Result java(Path classpath, String main, String... args) {
        return Cmd.run(javaArgv(classpath, main, List.of(args)));
    }

    private List<String> javaArgv(Path classpath, String main, List<String> args) {
        List<String> argv = enter(107, 107);
        argv.addAll(List.of(javaBin(), "-Dvmhandler.log.level=WARN", "-cp", classpath + "/*", main));
        argv.addAll(args);
        return argv;
    }

    /** A long-running process of this pod (as a libvirtd stand-in), as the given uid. */
    Process sleeper(long uid) {
        return sleeper(uid, 600);
    }

    /** The same, living {@code seconds} (a chaos run outlasts the default). */
    Process sleeper(long uid, long seconds) {
        List<String> argv = enter(uid, uid);
        argv.addAll(List.of("sleep", Long.toString(seconds)));
        return host.process(new ProcessBuilder(argv));
    }

    static String javaBin() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    /**
     * The test's runtime classpath as jars in a world-readable directory: the unprivileged client
     * cannot read /root/.m2 (docs/build.md §11). Class directories are packed as they are copied.
     */
    static Path readableClasspath(HostCleanup cleanup) throws IOException {
        Path dir = Files.createTempDirectory("vmh-cp-");
        int n = 0;
        for (String entry : System.getProperty("java.class.path").split(":")) {
            Path p = Path.of(entry);
            if (Files.isRegularFile(p)) {
                Files.copy(p, dir.resolve(n++ + "-" + p.getFileName()), StandardCopyOption.REPLACE_EXISTING);
            } else if (Files.isDirectory(p)) {
                Cmd.run("jar", "cf", dir.resolve(n++ + "-classes.jar").toString(), "-C", p.toString(), ".").ok();
            }
        }
        Cmd.run("chmod", "-R", "a+rX", dir.toString()).ok();
        dir.toFile().setReadable(true, false);
        dir.toFile().setExecutable(true, false);
        cleanup.add(() -> {
            try (Stream<Path> s = Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        return dir;
    }

    /**
     * The same VMI with a second, Multus interface: two taps (tap0, tap1), so a fault can strike
     * between the first tap and the second.
     */
    String vmiWithTwoTaps(String name, String node) {
        return vmi(name, node, "").replace("interfaces: [{name: default, masquerade: {}}]",
                "interfaces: [{name: default, masquerade: {}}, {name: second, bridge: {}}]")
                .replace("networks: [{name: default, pod: {}}]",
                        "networks: [{name: default, pod: {}}, {name: second, multus: {networkName: br}}]");
    }

    /** The same VMI with {@code taps} interfaces (tap0..tapN-1): the pod network and Multus bridges. */
    String vmiWithTaps(String name, String node, int taps) {
        StringBuilder ifs = new StringBuilder("{name: default, masquerade: {}}");
        StringBuilder nets = new StringBuilder("{name: default, pod: {}}");
        for (int i = 1; i < taps; i++) {
            ifs.append(", {name: net").append(i).append(", bridge: {}}");
            nets.append(", {name: net").append(i).append(", multus: {networkName: br").append(i).append("}}");
        }
        return vmi(name, node, "").replace("interfaces: [{name: default, masquerade: {}}]", "interfaces: [" + ifs + "]")
                .replace("networks: [{name: default, pod: {}}]", "networks: [" + nets + "]");
    }

    /** A VMI file scheduled to {@code node} with this pod as its active launcher pod. */
    String vmi(String name, String node, String extraDevices) {
        return vmi(name, node, 2, extraDevices);
    }

    /** The same with {@code cores} dedicated vCPUs (the tap gets that many queues). */
    String vmi(String name, String node, int cores, String extraDevices) {
        return """
                apiVersion: kubevirt.io/v1
                kind: VirtualMachineInstance
                metadata:
                  name: %s
                  namespace: default
                  uid: %s-vmi
                  labels: {kubevirt.io/nodeName: %s}
                spec:
                  domain:
                    cpu: {cores: %d, dedicatedCpuPlacement: true}
                    memory: {guest: 128Mi}
                    resources: {requests: {memory: 128Mi}}
                    devices:
                      networkInterfaceMultiqueue: true
                      interfaces: [{name: default, masquerade: {}}]
                %s
                  networks: [{name: default, pod: {}}]
                status:
                  nodeName: %s
                  activePods: {%s: %s}
                """.formatted(name, uid, node, cores, extraDevices, node, uid, node);
    }
}
