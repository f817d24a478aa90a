package io.vmhandler.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.testing.Cmd;
import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.Root;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

/**
 * NIC hotplug with the launcher pod's libvirt as KubeVirt's non-root launcher runs it (docs/hotplug.md): Debian's
 * libvirtd 9.0 in session mode as uid/gid 107 with no capabilities, inside a fake pod, runs a domain on the tap
 * vmhandler made; the VMI gains an interface; PrepareNetwork makes its tap; {@code virsh attach-device --live}
 * puts it into the running domain, where libvirt, unprivileged, opens the tap's 2 queues itself (it can because
 * vmhandler made the tap 107:107) and QEMU holds them; {@code virsh detach-device --live} takes it out;
 * ReleaseInterface deletes the tap. The first interface's tap keeps its ifindex and its 2 queues in QEMU
 * throughout, and another pod's tap of the same name is untouched. Everything is read back from the kernel
 * (ip -d link, /proc/PID/fdinfo, /proc/PID/status).
 */
class LibvirtSessionHotplugIT {
    private static final String DOMAIN = "vmh-lvs-hp";
    /** The VMI's 2 dedicated cores with networkInterfaceMultiqueue: every tap gets 2 queues. */
    private static final int QUEUES = 2;
    private static final Pattern IFINDEX = Pattern.compile("^(\\d+): ");

    @RegisterExtension
    final HostCleanup host = new HostCleanup();

    @Test
    void aSessionLibvirtAsUid107HotplugsTheTapVmhandlerMadeAndReleaseInterfaceDeletesItAfterTheUnplug() throws Exception {
        long start = System.nanoTime();
        Root.require();
        Root.requireTool(RealLibvirtd.LIBVIRTD);
        Root.requireTool(RealLibvirtd.VIRSH);
        Root.requireTool(io.vmhandler.cli.demo.QemuProcess.QEMU.toString());
        StandaloneNode node = StandaloneNode.start(host, "vmh-lvs-", c -> c);
        FakePod pod = new FakePod(host, "0-1");
        FakePod other = new FakePod(host, "0-1");

        // another pod's tap0: the name the first pod's tap has too
        node.publish("other.yaml", other.vmi("vm-lvs-other", StandaloneNode.NODE, ""));
        call(node, other, "prepare-network");
        int otherTap0 = ifindex(other, "tap0");

        node.publish("vm.yaml", pod.vmi("vm-lvs", StandaloneNode.NODE, ""));
        List<?> first = taps(call(node, pod, "prepare-network", "--json"));
        assertThat(first).hasSize(1);
        assertThat(field(first, "tap0", "queues")).isEqualTo(QUEUES);
        int tap0 = ifindex(pod, "tap0");

        RealLibvirtd libvirtd = RealLibvirtd.startSession(host, pod);
        Cmd.Result created = libvirtd.create(host, DOMAIN, PcieHotplugDomain.domain(DOMAIN, "tap0", QUEUES), false);
        assertThat(created.exit()).as("virsh create: %s%s\nlibvirtd: %s", created.err(), created.out(), libvirtd.log())
                .isZero();
        long qemu = libvirtd.qemuPid(DOMAIN).orElseThrow();
        assertThat(Files.readString(Path.of("/proc/" + qemu + "/status")))
                .containsPattern("Uid:\\s+107\\s+107\\s+107\\s+107").containsPattern("CapEff:\\s+0+\\n");
        // an unprivileged libvirt makes no cgroups: QEMU stays in the pod's, where PinVcpus looks for it
        assertThat(QemuProbes.cpusetLine(qemu)).isEqualTo(QemuProbes.cpusetLine(libvirtd.pid()))
                .endsWith(":cpuset:/" + Path.of("/sys/fs/cgroup/cpuset").relativize(pod.cpuset));
        awaitMillis("QEMU holds tap0's queues", 10, () -> QemuProbes.tunFds(qemu, "tap0") == QUEUES);
        firstTapUntouched(pod, tap0, qemu);

        // a tap the launcher's uid does not own: unprivileged libvirt cannot open it, which is why vmhandler
        // makes every tap 107:107
        Cmd.run("ip", "-n", pod.netnsName, "tuntap", "add", "dev", "tap8", "mode", "tap", "multi_queue", "vnet_hdr",
                "user", "0", "group", "0").ok();
        Cmd.Result rootsTap = libvirtd.liveDevice("attach-device", DOMAIN, PcieHotplugDomain.nic("tap8", QUEUES, Optional.empty()));
        assertThat(rootsTap.exit()).as("attach of a tap owned by 0:0").isNotZero();
        assertThat(rootsTap.err()).contains("Unable to create tap device tap8: Operation not permitted");
        Cmd.run("ip", "-n", pod.netnsName, "link", "del", "tap8").ok();

        // plugged: the VMI gains an interface, PrepareNetwork creates its tap
        node.publish("vm.yaml", pod.vmiWithTwoTaps("vm-lvs", StandaloneNode.NODE));
        List<?> two = taps(call(node, pod, "prepare-network", "--json"));
        assertThat(two).hasSize(2);
        assertThat(field(two, "tap1", "created")).isEqualTo(true);
        assertThat(field(two, "tap1", "queues")).isEqualTo(QUEUES);
        assertThat(field(two, "tap1", "interfaceName")).isEqualTo("second");
        assertThat(field(two, "tap0", "created")).isEqualTo(false);
        assertThat(Cmd.run("ip", "-n", pod.netnsName, "-d", "link", "show", "tap1").ok().out()).contains("multi_queue")
                .contains("user 107").containsPattern("group (107|libvirt-qemu|kvm) ");
        assertThat(QemuProbes.attachedQueues(pod.netnsName, "tap1")).isZero();
        firstTapUntouched(pod, tap0, qemu);

        long t = System.nanoTime();
        Cmd.Result attached = libvirtd.liveDevice("attach-device", DOMAIN, PcieHotplugDomain.nic("tap1", QUEUES, Optional.empty()));
        long attachMs = millisSince(t);
        assertThat(attached.exit()).as("attach-device: %s\n%s", attached.err(), libvirtd.domainLog(DOMAIN)).isZero();
        assertThat(attached.out()).contains("Device attached successfully");
        long fdsMs = attachMs + awaitMillis("QEMU holds tap1's queues", 10, () -> QemuProbes.tunFds(qemu, "tap1") == QUEUES);
        assertThat(QemuProbes.attachedQueues(pod.netnsName, "tap1")).as("numqueues + numdisabled of tap1").isEqualTo(QUEUES);
        firstTapUntouched(pod, tap0, qemu);

        // unplugged: the VMI loses the interface; the launcher detaches it (naming the MAC libvirt gave it)
        node.publish("vm.yaml", pod.vmi("vm-lvs", StandaloneNode.NODE, "") + "\n");
        String mac = PcieHotplugDomain.macOf(libvirtd.virsh("dumpxml", DOMAIN).ok().out(), "tap1").orElseThrow();
        t = System.nanoTime();
        Cmd.Result detached = libvirtd.liveDevice("detach-device", DOMAIN, PcieHotplugDomain.nic("tap1", QUEUES, Optional.of(mac)));
        assertThat(detached.exit()).as("detach-device: %s\n%s", detached.err(), libvirtd.domainLog(DOMAIN)).isZero();
        // detach-device may return before the device is gone (libvirt waits 5 s for QEMU's DEVICE_DELETED)
        awaitMillis("tap1 leaves the domain and QEMU", 30, () -> !libvirtd.virsh("dumpxml", DOMAIN).ok().out()
                .contains("dev='tap1'") && QemuProbes.tunFds(qemu, "tap1") == 0);
        long detachMs = millisSince(t);
        assertThat(QemuProbes.attachedQueues(pod.netnsName, "tap1")).as("tap1 persists with no queue").isZero();
        firstTapUntouched(pod, tap0, qemu);

        t = System.nanoTime();
        String released = call(node, pod, "release-interface", "--interface", "second").out();
        long releaseMs = millisSince(t);
        assertThat(released).isEqualTo("removed taps: tap1\n");
        // ReleaseInterface hands the tap to the background deleter (docs/launcher-api.md §3.5): gone shortly after
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
                .until(() -> !Cmd.run("ip", "-n", pod.netnsName, "-o", "link").ok().out().contains("tap1"));
        firstTapUntouched(pod, tap0, qemu);
        assertThat(ifindex(other, "tap0")).as("the other pod's tap0").isEqualTo(otherTap0);
        assertThat(libvirtd.virsh("domstate", DOMAIN).ok().out().strip()).isEqualTo("running");

        String load = Files.readString(Path.of("/proc/loadavg")).strip();
        System.out.printf("LibvirtSessionHotplugIT: attach-device %d ms, QEMU holds %d tap1 fds %d ms after the attach "
                        + "began, detach-device until gone %d ms, ReleaseInterface (launcher CLI, JVM start included) %d ms,"
                        + " test %d ms; load average %s%n",
                attachMs, QUEUES, fdsMs, detachMs, releaseMs, millisSince(start), load);
    }

    /** The first interface's tap: same ifindex, and QEMU still holds its 2 queues. */
    private static void firstTapUntouched(FakePod pod, int ifindex, long qemu) {
        assertThat(ifindex(pod, "tap0")).as("tap0's ifindex").isEqualTo(ifindex);
        assertThat(QemuProbes.attachedQueues(pod.netnsName, "tap0")).as("numqueues + numdisabled of tap0").isEqualTo(QUEUES);
        assertThat(QemuProbes.tunFds(qemu, "tap0")).as("QEMU's fds on tap0").isEqualTo(QUEUES);
    }

    private static Cmd.Result call(StandaloneNode node, FakePod pod, String... args) {
        Cmd.Result r = pod.launcher(node.classpath, node.socket, args);
        assertThat(r.exit()).as(String.join(" ", args) + ": " + r.err()).isZero();
        return r;
    }

    private static List<?> taps(Cmd.Result prepareNetworkJson) {
        Map<?, ?> reply = (Map<?, ?>) new Load(LoadSettings.builder().build()).loadFromString(prepareNetworkJson.out());
        return (List<?>) reply.get("taps");
    }

    private static Object field(List<?> taps, String tap, String key) {
        return taps.stream().map(Map.class::cast).filter(m -> tap.equals(m.get("name"))).findFirst()
                .orElseThrow(() -> new AssertionError("no " + tap + " in " + taps)).get(key);
    }

    private static int ifindex(FakePod pod, String tap) {
        String line = Cmd.run("ip", "-n", pod.netnsName, "-o", "link", "show", tap).ok().out();
        Matcher m = IFINDEX.matcher(line);
        assertThat(m.find()).as(line).isTrue();
        return Integer.parseInt(m.group(1));
    }

    /** Polls {@code done} every 50 ms for up to {@code seconds}; returns the milliseconds it took. */
    private static long awaitMillis(String what, long seconds, BooleanSupplier done) throws InterruptedException {
        long t = System.nanoTime();
        while (!done.getAsBoolean()) {
            if (System.nanoTime() - t > TimeUnit.SECONDS.toNanos(seconds)) {
                throw new AssertionError(what + ": not within " + seconds + " s");
            }
            Thread.sleep(50);
        }
        return millisSince(t);
    }

    private static long millisSince(long nanos) {
        return (System.nanoTime() - nanos) / 1_000_000;
    }
}
