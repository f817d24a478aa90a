package io.vmhandler.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.cli.Main;
import io.vmhandler.cli.demo.QemuProcess;
import io.vmhandler.testing.Cmd;
import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.Root;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code vmhandler status} against a real daemon on a real socket: three fake pods (real netns and
 * kubelet-named cgroups, callers as uid 107) each with a VMI, PrepareNetwork and SetMemoryLock done,
 * and one refused SetMemoryLock. Root on the node sees all three; uid 107 in a pod and root in a pod
 * are refused; a member of the admin group (its gid or a supplementary group, no capabilities, not
 * in a pod) is allowed.
 */
class StatusCommandIT {
    /** Nobody on this machine uses these ids; the daemon is configured with ADMIN as --admin-group. */
    private static final int ADMIN_GID = 4343;
    private static final int OPERATOR_UID = 4242;

    @RegisterExtension
    final HostCleanup host = new HostCleanup();

    private static final HostCleanup shared = new HostCleanup();
    private static StandaloneNode node;
    private static final List<FakePod> pods = new ArrayList<>();
    private static final List<Long> libvirtds = new ArrayList<>();
    private static final List<String> prepared = new ArrayList<>();
    private static String refusal;

    @BeforeAll
    static void threePodsWithTheirLauncherCallsDone() throws Exception {
        Root.require();
        node = StandaloneNode.start(shared, "vmh-status-", c -> c.withAdminGroup(ADMIN_GID));
        for (int i = 0; i < 3; i++) {
            FakePod pod = new FakePod(shared, "0-1");
            pods.add(pod);
            String file = "s" + i + ".yaml";
            node.publish(file, pod.vmi("vm-s" + i, StandaloneNode.NODE, i + 1, ""));
            Cmd.Result net = pod.launcher(node.classpath, node.socket, "prepare-network", "--json");
            assertThat(net.exit()).as(net.err()).isZero();
            prepared.add(net.out());
            Process libvirtd = pod.sleeper(0);
            libvirtds.add(libvirtd.pid());
            Cmd.Result ml = pod.launcher(node.classpath, node.socket, "set-memlock", "--pid",
                    Long.toString(libvirtd.pid()), "--libvirt-version", "9.0.0");
            assertThat(ml.exit()).as(ml.err()).isZero();
        }
        // the third VMI gains a GPU (a VFIO hostdev): 128 MiB + 1 GiB, above the 8 MiB hard limit
        FakePod third = pods.get(2);
        node.publish("s2.yaml", third.vmi("vm-s2", StandaloneNode.NODE, 3,
                "      gpus: [{name: g, deviceName: nvidia.com/GP}]") + "\n");
        Files.setLastModifiedTime(node.vmiDir.resolve("s2.yaml"), FileTime.fromMillis(System.currentTimeMillis() + 10_000));
        node.daemon.vmiFiles().scan();
        Cmd.Result r = third.launcher(node.classpath, node.socket, "set-memlock", "--pid",
                Long.toString(libvirtds.get(2)), "--libvirt-version", "9.0.0");
        refusal = r.exit() == 0 ? null : r.err().strip();
    }

    @AfterAll
    static void stopDaemon() {
        shared.cleanupNow();
    }

    private record Run(int exit, String out, String err) {}

    /** The real CLI in this JVM: root, outside every pod. */
    private static Run statusAsRoot(String... extra) {
        List<String> argv = new ArrayList<>(List.of("status", "--socket", node.socket.toString()));
        argv.addAll(List.of(extra));
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        int code = Main.cli().run(argv.toArray(String[]::new), new PrintStream(o, true, StandardCharsets.UTF_8),
                new PrintStream(e, true, StandardCharsets.UTF_8));
        return new Run(code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
    }

    /** {@code vmhandler status} as a separate JVM behind {@code prefix} (setpriv, a pod's entry). */
    private static Cmd.Result statusVia(List<String> prefix) {
        List<String> argv = new ArrayList<>(prefix);
        argv.addAll(List.of(FakePod.javaBin(), "-Dvmhandler.log.level=WARN", "-cp", node.classpath + "/*",
                "io.vmhandler.cli.Main", "status", "--socket", node.socket.toString()));
        return Cmd.run(argv);
    }

    private static String block(String text, String vmi) {
        int start = text.indexOf("\nVMI default/" + vmi + "\n");
        assertThat(start).as("block of " + vmi + " in\n" + text).isNotNegative();
        int end = text.indexOf("\nVMI ", start + 1);
        return end < 0 ? text.substring(start) : text.substring(start, end);
    }

    private static int mtu(String prepareNetworkJson) {
        Matcher m = Pattern.compile("\"mtu\":(\\d+)").matcher(prepareNetworkJson);
        assertThat(m.find()).as(prepareNetworkJson).isTrue();
        return Integer.parseInt(m.group(1));
    }

    @Test
    void rootOnTheNodeSeesEveryVmiWithItsPodTapsMemlockAndLastError() {
        Run r = statusAsRoot();
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out()).startsWith("node node1 (vmhandler ").contains("\nwatch       files, up, synced 20")
                .contains("\ncheckpoint  ok, 0 pending write(s), 0 corrupt file(s)\n");
        for (int i = 0; i < 3; i++) {
            FakePod pod = pods.get(i);
            String b = block(r.out(), "vm-s" + i);
            assertThat(b).contains("\n  uid         " + pod.uid + "-vmi\n")
                    .contains("\n  pod         " + pod.uid + "\n")
                    .contains("\n  taps        tap0 (interface default): " + (i + 1) + " queue(s), mtu "
                            + mtu(prepared.get(i)) + ", owner 107:107\n")
                    .contains("\n  pinning     none\n");
            long pid = libvirtds.get(i);
            // the fake pods share the host pid namespace, so the launcher's pid is the host pid
            assertThat(b).contains("\n  memlock     not set (libvirt sets no limit), branch NONE, libvirt 9.0.0, pid "
                    + pid + " (host pid " + pid + "), at 20");
        }
        assertThat(block(r.out(), "vm-s0")).contains("\n  last error  none\n");
        assertThat(block(r.out(), "vm-s1")).contains("\n  last error  none\n");
        String third = block(r.out(), "vm-s2");
        if (refusal != null) {
            assertThat(refusal).startsWith("FAILED_PRECONDITION: the node refused the memlock limit");
            assertThat(third).containsPattern("\n  last error  SetMemoryLock FAILED_PRECONDITION at 20\\S+Z: "
                    + Pattern.quote(refusal.substring("FAILED_PRECONDITION: ".length())) + " \\(caller pid \\d+ uid 107 gid 107\\)\n");
        } else {
            // a node where the daemon has CAP_SYS_RESOURCE applies it instead
            assertThat(third).contains("\n  memlock     1207959552 bytes, branch DEVICES, libvirt 9.0.0");
        }
    }

    @Test
    void jsonIsOneObjectWithTheSameFacts() {
        Run r = statusAsRoot("--json");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out().strip()).startsWith("{\"node\":\"node1\"").endsWith("}").doesNotContain("\n");
        for (int i = 0; i < 3; i++) {
            assertThat(r.out()).contains("{\"namespace\":\"default\",\"name\":\"vm-s" + i + "\",\"uid\":\""
                    + pods.get(i).uid + "-vmi\",\"podUid\":\"" + pods.get(i).uid + "\",\"taps\":[{\"name\":\"tap0\","
                    + "\"interfaceName\":\"default\",\"queues\":" + (i + 1) + ",\"mtu\":" + mtu(prepared.get(i))
                    + ",\"ownerUid\":107,\"ownerGid\":107}],\"memlock\":{\"pid\":" + libvirtds.get(i) + ",\"hostPid\":"
                    + libvirtds.get(i) + ",\"applied\":false,\"unlimited\":false,\"bytes\":null,\"branch\":\"NONE\"");
        }
        if (refusal != null) {
            assertThat(r.out()).contains("\"lastError\":{\"method\":\"SetMemoryLock\",\"code\":\"FAILED_PRECONDITION\"");
        }
    }

    @Test
    void aLauncherInItsPodIsRefusedAndSoIsRootInAPod() {
        Cmd.Result launcher = statusVia(pods.get(0).enter(107, 107));
        assertThat(launcher.exit()).isEqualTo(1);
        assertThat(launcher.out()).isEmpty();
        assertThat(launcher.err()).startsWith("PERMISSION_DENIED: node status is not available to processes in a"
                + " Kubernetes pod");
        Cmd.Result rootInPod = statusVia(pods.get(1).enterAsRoot());
        assertThat(rootInPod.exit()).isEqualTo(1);
        assertThat(rootInPod.err()).startsWith("PERMISSION_DENIED: node status is not available to processes in a"
                + " Kubernetes pod");
        assertThat(rootInPod.out()).doesNotContain(pods.get(0).uid);
    }

    @Test
    void anAdminGroupMemberWithoutCapabilitiesIsAllowedAndAnyoneElseIsNot() {
        List<String> noCaps = List.of("--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--");
        List<String> asAdminGid = new ArrayList<>(List.of("setpriv", "--reuid", "" + OPERATOR_UID, "--regid",
                "" + ADMIN_GID, "--clear-groups"));
        asAdminGid.addAll(noCaps);
        Cmd.Result byGid = statusVia(asAdminGid);
        assertThat(byGid.exit()).as(byGid.err()).isZero();
        assertThat(byGid.out()).contains("\nVMI default/vm-s0\n", "\nVMI default/vm-s1\n", "\nVMI default/vm-s2\n");

        List<String> asSupplementary = new ArrayList<>(List.of("setpriv", "--reuid", "" + OPERATOR_UID, "--regid",
                "" + OPERATOR_UID, "--groups", "" + ADMIN_GID));
        asSupplementary.addAll(noCaps);
        Cmd.Result byGroups = statusVia(asSupplementary);
        assertThat(byGroups.exit()).as(byGroups.err()).isZero();
        assertThat(byGroups.out()).contains("\nVMI default/vm-s2\n");

        List<String> stranger = new ArrayList<>(List.of("setpriv", "--reuid", "" + OPERATOR_UID, "--regid",
                "" + OPERATOR_UID, "--clear-groups"));
        stranger.addAll(noCaps);
        Cmd.Result denied = statusVia(stranger);
        assertThat(denied.exit()).isEqualTo(1);
        assertThat(denied.err()).isEqualTo("PERMISSION_DENIED: node status is only for root or members of group "
                + ADMIN_GID + "; the caller is uid " + OPERATOR_UID + " gid " + OPERATOR_UID + "\n");
    }

    @Test
    void aPinnedQemuShowsEachVcpusCpusAndTheHousekeepingSet() throws Exception {
        Root.requireTool(QemuProcess.QEMU.toString());
        FakePod pod = new FakePod(host, "0-1");
        node.publish("pin.yaml", pod.vmi("vm-pin", StandaloneNode.NODE, 2, ""));
        host.add(() -> node.vmiDir.resolve("pin.yaml").toFile().delete());
        var qemu = QemuProcess.startInCgroups(List.of(pod.cpuset), 107, 107, 2, "vm-pin");
        host.add(qemu::close);
        QemuProbes.awaitVcpuThreads(qemu.pid(), 2);
        Cmd.Result pin = pod.launcher(node.classpath, node.socket, "pin-vcpus", "--pid", Long.toString(qemu.pid()), "--json");
        assertThat(pin.exit()).as(pin.err() + pin.out()).isZero();

        // what the launcher was told, in status form: "vcpu 0->0 1->1, housekeeping <cpus or none>"
        List<String> vcpus = new ArrayList<>();
        Matcher m = Pattern.compile("\\{\"vcpu\":(\\d+),\"tid\":\\d+,\"cpus\":\\[([\\d,]*)\\]").matcher(pin.out());
        while (m.find()) {
            assertThat(m.group(2)).as("dedicated placement: one CPU per vCPU").matches("\\d+");
            vcpus.add(m.group(1) + "->" + m.group(2));
        }
        assertThat(vcpus).as(pin.out()).hasSize(2);
        Matcher emu = Pattern.compile("\"emulatorCpus\":\\[([\\d,]*)\\]").matcher(pin.out());
        assertThat(emu.find()).as(pin.out()).isTrue();

        Run r = statusAsRoot();
        assertThat(r.exit()).as(r.err()).isZero();
        String b = block(r.out(), "vm-pin");
        Matcher shown = Pattern.compile("\n  pinning     vcpu " + Pattern.quote(String.join(" ", vcpus))
                + ", housekeeping (\\S+), qemu host pid " + qemu.pid() + ", at 20").matcher(b);
        assertThat(shown.find()).as(b).isTrue();
        // the status prints the kernel's list format ("0-1"), the launcher got the CPUs one by one
        assertThat(expand(shown.group(1))).isEqualTo(emu.group(1).isEmpty() ? "" : emu.group(1));
    }

    /** "0-2,5" as "0,1,2,5"; "none" as "". */
    private static String expand(String list) {
        if (list.equals("none")) {
            return "";
        }
        List<String> out = new ArrayList<>();
        for (String part : list.split(",")) {
            String[] ends = part.split("-");
            for (int c = Integer.parseInt(ends[0]); c <= Integer.parseInt(ends[ends.length - 1]); c++) {
                out.add(Integer.toString(c));
            }
        }
        return String.join(",", out);
    }
}
