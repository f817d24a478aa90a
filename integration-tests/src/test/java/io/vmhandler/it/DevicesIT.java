package io.vmhandler.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vmhandler.cli.DevicesCommand;
import io.vmhandler.core.devices.DeviceRefusedException;
import io.vmhandler.core.devices.HostDevices;
import io.vmhandler.core.devices.KubeletPodResources;
import io.vmhandler.core.devices.PodDevices;
import io.vmhandler.core.devices.PodSysctls;
import io.vmhandler.core.devices.VfioGroups;
import io.vmhandler.core.model.VmiDocument;
import io.vmhandler.grpc.podresources.PodResourcesClient;
import io.vmhandler.grpc.podresources.v1.ListPodResourcesResponse;
import io.vmhandler.nativeio.NetNamespace;
import io.vmhandler.proc.ProcFs;
import io.vmhandler.proc.ProcessRef;
import io.vmhandler.testing.Cmd;
import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.Root;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * PrepareDevices' mechanism on real kernel objects: a pod with its own mount namespace and a tmpfs /dev
 * of real mknod nodes, a uid-107 capability-less launcher in it, the pod's real netns. kubelet's
 * PodResources API is the one double (an in-test gRPC server on a unix socket); the node's /dev and
 * /sys are temp trees so the test can say which VFIO groups the node has.
 */
class DevicesIT {
    static final String[] POD_NODES = {"/dev/net/tun", "/dev/kvm", "/dev/vhost-net", "/dev/vhost-vsock",
            "/dev/vfio/vfio", "/dev/vfio/7", "/dev/vfio/9"};

    @RegisterExtension
    final HostCleanup host = new HostCleanup();

    private static NetNamespace runner;
    private Path work;
    private Path hostDev;
    private Path sys;
    private FakePodResources kubelet;
    private PodResourcesClient client;
    private PodDevices devices;
    private DevicePod pod;
    private Path vmiFile;

    @BeforeAll
    static void startRunner() {
        runner = new NetNamespace("devices-it", 1);
    }

    @AfterAll
    static void stopRunner() {
        runner.close();
    }

    @BeforeEach
    void setUp() throws Exception {
        Root.require();
        work = Files.createTempDirectory("vmh-devices-");
        host.add(() -> Cmd.run("rm", "-rf", work.toString()));
        hostDev = Files.createDirectories(work.resolve("host-dev"));
        Cmd.run("/bin/sh", "-c", String.join(" && ", "cd " + hostDev, "mknod -m 600 kvm c 10 232",
                "mknod -m 600 vhost-net c 10 238", "mkdir vfio", "mknod -m 600 vfio/vfio c 10 196",
                "mknod -m 600 vfio/7 c " + DevicePod.VFIO_GROUP_MAJOR + " 7",
                "mknod -m 600 vfio/9 c " + DevicePod.VFIO_GROUP_MAJOR + " 9")).ok();
        sys = work.resolve("sys");
        for (String[] dev : new String[][] {{"0000:81:00.1", "7"}, {"0000:82:00.1", "9"}}) {
            Files.createDirectories(sys.resolve("kernel/iommu_groups/" + dev[1]));
            Path d = Files.createDirectories(sys.resolve("bus/pci/devices/" + dev[0]));
            Files.createSymbolicLink(d.resolve("iommu_group"), Path.of("../../../../kernel/iommu_groups/" + dev[1]));
        }
        kubelet = FakePodResources.start(host, work, ListPodResourcesResponse.newBuilder()
                .addPodResources(FakePodResources.pod("default", "virt-launcher-devvm-abcde", "intel.com/sriov_vfio",
                        "0000:81:00.1").toBuilder().addContainers(FakePodResources.pod("", "", "devices.kubevirt.io/kvm",
                        "kvm0").getContainers(0)))
                .addPodResources(FakePodResources.pod("default", "virt-launcher-other-fghij", "intel.com/sriov_vfio",
                        "0000:82:00.1"))
                .build());
        client = PodResourcesClient.connect(kubelet.socket, Duration.ofSeconds(5));
        host.add(client::close);
        devices = new PodDevices(new HostDevices(hostDev, Path.of("/proc/devices")),
                new VfioGroups(new KubeletPodResources(client), sys), new PodSysctls(runner, Path.of("/proc")));
        pod = new DevicePod(host, "0");
        vmiFile = work.resolve("vmi.yaml");
        Files.writeString(vmiFile, pod.pod.vmi("devvm", "node-x", "      autoattachVSOCK: true"));
    }

    private String grant(Process launcher, int expectExit) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = new DevicesCommand(() -> devices, ProcFs.DEFAULT_ROOT).run(
                List.of("grant", "--pid", Long.toString(launcher.pid()), "--vmi", vmiFile.toString(), "--json"),
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        assertThat(code).as("exit code; stderr: %s", err).isEqualTo(expectExit);
        return code == 0 ? out.toString(StandardCharsets.UTF_8) : err.toString(StandardCharsets.UTF_8);
    }

    private static Map<String, String> byPath(List<String> results) {
        return IntStream.range(0, POD_NODES.length).boxed()
                .collect(Collectors.toMap(i -> POD_NODES[i], results::get, (a, b) -> a, java.util.TreeMap::new));
    }

    /** Owner, mode and numbers of the host's own kvm and tun nodes, those that exist (no /dev/kvm without KVM). */
    private static String hostState() {
        List<String> argv = new java.util.ArrayList<>(List.of("stat", "-c", "%n %u:%g %a %t:%T"));
        for (String node : List.of("/dev/kvm", "/dev/net/tun")) {
            if (Files.exists(Path.of(node))) {
                argv.add(node);
            }
        }
        return Cmd.run(argv).ok().out();
    }

    @Test
    void theLauncherOpensItsNodesOnlyAfterTheGrantAndNotTheOtherPodsGroup() throws Exception {
        String hostBefore = hostState();
        Process launcher = pod.launcher();
        Map<String, String> before = byPath(pod.tryOpen(POD_NODES));
        assertThat(before.values()).as("before the call: %s", before).containsOnly("EACCES");

        String json = grant(launcher, 0);
        Map<String, String> after = byPath(pod.tryOpen(POD_NODES));
        System.out.println("DevicesIT open() results after the grant: " + after);
        assertThat(after.get("/dev/net/tun")).isEqualTo("OPEN");
        assertThat(after.get("/dev/kvm")).isEqualTo(DevicePod.kvmOpenAfterGrant());
        // drivers this kernel lacks: past the permission check, the misc/chrdev open reports no driver
        for (String p : List.of("/dev/vhost-net", "/dev/vhost-vsock", "/dev/vfio/vfio", "/dev/vfio/7")) {
            assertThat(after.get(p)).as(p).isIn("OPEN", "ENODEV", "ENXIO");
        }
        assertThat(after.get("/dev/vfio/9")).as("the other pod's group").isEqualTo("EACCES");
        assertThat(pod.owner("/dev/vfio/9")).isEqualTo("0:0 600 character special file");
        assertThat(pod.owner("/dev/kvm")).isEqualTo("107:107 600 character special file");
        assertThat(json).contains("\"path\":\"/dev/vfio/7\"").doesNotContain("\"path\":\"/dev/vfio/9\"")
                .contains("kvm0").contains("not a PCI address");
        assertThat(hostState()).as("the host's /dev").isEqualTo(hostBefore);

        String again = grant(launcher, 0);
        assertThat(again).contains("\"changed\":false").doesNotContain("\"changed\":true");
    }

    @Test
    void theSysctlsChangeInThePodNetnsOnly() throws Exception {
        String portBefore = Files.readString(Path.of("/proc/sys/net/ipv4/ip_unprivileged_port_start"));
        String pingBefore = Files.readString(Path.of("/proc/sys/net/ipv4/ping_group_range"));
        Process launcher = pod.launcher();
        String probe = """
                import errno, socket
                r = []
                try:
                    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).bind(("0.0.0.0", 67)); r.append("BIND_OK")
                except OSError as e:
                    r.append("BIND_" + errno.errorcode[e.errno])
                try:
                    socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP); r.append("ICMP_OK")
                except OSError as e:
                    r.append("ICMP_" + errno.errorcode[e.errno])
                print(" ".join(r))
                """;
        assertThat(Cmd.run(pod.asLauncher("/usr/bin/python3", "-c", probe)).out().strip())
                .isEqualTo("BIND_EACCES ICMP_EACCES");

        String json = grant(launcher, 0);
        assertThat(json).contains("\"after\":\"67\"").contains("\"after\":\"107 107\"");
        assertThat(Cmd.run(pod.asLauncher("/usr/bin/python3", "-c", probe)).out().strip()).isEqualTo("BIND_OK ICMP_OK");
        assertThat(Cmd.run("ip", "netns", "exec", pod.pod.netnsName, "cat",
                "/proc/sys/net/ipv4/ip_unprivileged_port_start").ok().out().strip()).isEqualTo("67");
        assertThat(Files.readString(Path.of("/proc/sys/net/ipv4/ip_unprivileged_port_start"))).isEqualTo(portBefore);
        assertThat(Files.readString(Path.of("/proc/sys/net/ipv4/ping_group_range"))).isEqualTo(pingBefore);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"symlink", "regular-file", "fifo", "wrong-number", "linked-directory", "host-node"})
    void aHostileNodeIsRefusedAndNothingChanges(String kind) throws Exception {
        Path target = work.resolve("host-file");
        Files.writeString(target, "host");
        Cmd.run("chmod", "600", target.toString()).ok();
        Files.createDirectories(work.resolve("host-dir"));
        String plant = switch (kind) {
            case "symlink" -> "rm /dev/kvm && ln -s " + target + " /dev/kvm";
            case "regular-file" -> "rm /dev/net/tun && cp " + target + " /dev/net/tun";
            case "fifo" -> "rm /dev/vhost-net && mkfifo -m 600 /dev/vhost-net";
            case "wrong-number" -> "rm /dev/kvm && mknod -m 600 /dev/kvm c 1 3";
            case "linked-directory" -> "mv /dev/net /dev/net-real && ln -s /dev/net-real /dev/net";
            case "host-node" -> "mount --bind " + hostDev.resolve("kvm") + " /dev/kvm";
            default -> throw new IllegalArgumentException(kind);
        };
        pod.asRoot(plant);
        String hostBefore = Cmd.run("stat", "-c", "%u:%g %a", target.toString(), hostDev.resolve("kvm").toString()).ok().out();
        Process launcher = pod.launcher();

        String err = grant(launcher, 1);
        assertThat(err).contains("refused, nothing changed");
        assertThat(Cmd.run("stat", "-c", "%u:%g %a", target.toString(), hostDev.resolve("kvm").toString()).ok().out())
                .isEqualTo(hostBefore);
        for (String p : List.of("/dev/vhost-vsock", "/dev/vfio/vfio", "/dev/vfio/7")) {
            assertThat(pod.owner(p)).as(p + " stays untouched").startsWith("0:0 600");
        }
        try (ProcessRef ref = ProcessRef.open(ProcFs.host(), (int) launcher.pid())) {
            VmiDocument vmi = VmiDocument.read(vmiFile);
            assertThatThrownBy(() -> devices.prepare(ref, vmi, 107, 107)).isInstanceOf(DeviceRefusedException.class);
        }
    }

    @Test
    void aSecondLauncherPodOfTheSameVmiIsRefusedRatherThanGuessed() throws Exception {
        kubelet.close();
        kubelet = FakePodResources.start(host, work, ListPodResourcesResponse.newBuilder()
                .addPodResources(FakePodResources.pod("default", "virt-launcher-devvm-abcde", "r", "0000:81:00.1"))
                .addPodResources(FakePodResources.pod("default", "virt-launcher-devvm-zzzzz", "r", "0000:82:00.1"))
                .build());
        Process launcher = pod.launcher();
        assertThat(grant(launcher, 1)).contains("2 launcher pods");
        assertThat(pod.owner("/dev/kvm")).startsWith("0:0 600");
    }

}
