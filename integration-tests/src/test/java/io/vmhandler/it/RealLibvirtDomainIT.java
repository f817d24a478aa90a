package io.vmhandler.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.cli.Main;
import io.vmhandler.nativeio.CpuSet;
import io.vmhandler.testing.Cmd;
import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.Root;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

/**
 * End to end with nothing simulated: Debian's real libvirtd 9.0 runs as root inside a fake launcher pod
 * (real netns, kubelet-named cpuset cgroup) and starts a real QEMU as uid 107 on a tap that vmhandler made
 * through the launcher API; vmhandler sets libvirtd's RLIMIT_MEMLOCK before the start and pins the vCPU
 * threads after it, and every effect is read back from the kernel (ip -d link, /proc, sched_getaffinity).
 *
 * <p>This machine has no CAP_SYS_RESOURCE even as root, so no hard RLIMIT_MEMLOCK can exceed 8 MiB. The
 * only branch of libvirt's formula that gives a value below that is {@code <memtune><hard_limit>} alone
 * (libvirt 9.0 then sets memlock := hard_limit in the forked child before exec, docs/memlock.md §7.2), so the
 * domain carries a 6 MiB hard_limit. libvirt's cgroups are off (see {@link RealLibvirtd}), so libvirt does
 * not enforce it as a memory cgroup limit either.
 */
class RealLibvirtDomainIT {
    private static final int VCPUS = 4;
    /** A container runtime's default soft RLIMIT_MEMLOCK (64 KiB), so vmhandler's setting is visible. */
    private static final long CONTAINER_SOFT_MEMLOCK = 65536;

    @RegisterExtension
    final HostCleanup host = new HostCleanup();

    private static final HostCleanup shared = new HostCleanup();
    private static StandaloneNode node;
    private static FakePod pod;
    private static RealLibvirtd libvirtd;
    private static int podCpus;

    @BeforeAll
    static void startDaemonAndLibvirtd() throws Exception {
        Root.require();
        Root.requireTool(RealLibvirtd.LIBVIRTD);
        Root.requireTool(RealLibvirtd.VIRSH);
        Root.requireTool(io.vmhandler.cli.demo.QemuProcess.QEMU.toString());
        node = StandaloneNode.start(shared, "vmh-lv-", c -> c);

        // a dedicated CPU per vCPU where the node has them (this 2-core machine has not)
        podCpus = Math.min(VCPUS, Runtime.getRuntime().availableProcessors());
        pod = new FakePod(shared, "0-" + (podCpus - 1));
        // 4 vCPUs and networkInterfaceMultiqueue: vmhandler makes a 4-queue multi_queue tap
        node.publish("vm-lv.yaml", pod.vmi("vm-lv", StandaloneNode.NODE, VCPUS, ""));
        libvirtd = RealLibvirtd.start(shared, pod, CONTAINER_SOFT_MEMLOCK);
    }

    @AfterAll
    static void stopAll() {
        shared.cleanupNow();
    }

    @BeforeEach
    void containerDefaultSoftMemlock() {
        // a test before may have left vmhandler's limit on libvirtd; lowering a soft limit needs no capability
        Cmd.run("prlimit", "--pid", Long.toString(libvirtd.pid()), "--memlock=" + CONTAINER_SOFT_MEMLOCK + ":").ok();
    }

    @Test
    void aRealLibvirtDomainStartsOnVmhandlersTapWithVmhandlersMemlockAndVcpuPinning() throws Exception {
        String tap = prepareNetwork();
        String before = Cmd.run("ip", "-n", pod.netnsName, "-d", "link", "show", tap).ok().out();
        assertThat(before).contains("multi_queue").contains("numqueues 0 numdisabled 0").contains("user 107")
                .containsPattern("group (107|libvirt-qemu|kvm) ");

        // the launcher API's SetMemoryLock computes from the VMI: no VFIO/vDPA/NVMe, no hard limit in a VMI,
        // so libvirt's formula gives 0 (NONE) and the limit is left as it is
        long[] container = RealLibvirtd.memlock(libvirtd.pid());
        assertThat(container[0]).isEqualTo(CONTAINER_SOFT_MEMLOCK);
        Cmd.Result none = pod.launcher(node.classpath, node.socket, "set-memlock", "--pid", Long.toString(libvirtd.pid()),
                "--libvirt-version", "9.0.0", "--json");
        assertThat(none.exit()).as(none.err()).isZero();
        assertThat(none.out()).contains("\"applied\":false").contains("\"branch\":\"MEMLOCK_BRANCH_NONE\"");
        assertThat(RealLibvirtd.memlock(libvirtd.pid())).containsExactly(container);

        // the domain's own XML: vmhandler computes libvirt's value from it and sets it on libvirtd first
        String xml = domainXml("vmh-lv", tap, 6144);
        Path xmlFile = Files.writeString(Files.createTempFile("vmh-lv-", ".xml"), xml);
        host.add(() -> xmlFile.toFile().delete());
        Map<?, ?> computed = (Map<?, ?>) json(cli("memlock", "--domain-xml", xmlFile.toString(),
                "--libvirt-version", "9.0.0", "--json"));
        assertThat(computed.get("branch")).isEqualTo("hard_limit");
        long bytes = ((Number) computed.get("bytes")).longValue();
        assertThat(bytes).isEqualTo(6144L * 1024);
        cli("memlock", "apply", "--pid", Long.toString(libvirtd.pid()), "--domain-xml", xmlFile.toString(),
                "--libvirt-version", "9.0.0");
        assertThat(RealLibvirtd.memlock(libvirtd.pid())).containsExactly(bytes, bytes);

        long t0 = System.nanoTime();
        // paused: QEMU is fully set up (queues, vCPU threads, limits) but burns no CPU while we check
        Cmd.Result created = libvirtd.create(host, "vmh-lv", xml, true);
        long startMillis = (System.nanoTime() - t0) / 1_000_000;
        assertThat(created.exit()).as("virsh create: %s%s\nlibvirtd: %s", created.err(), created.out(), libvirtd.log())
                .isZero();
        long qemu = libvirtd.qemuPid("vmh-lv").orElseThrow();
        System.out.printf("RealLibvirtDomainIT: domain started (paused) in %d ms, qemu pid %d%n", startMillis, qemu);

        String status = Files.readString(Path.of("/proc/" + qemu + "/status"));
        assertThat(status).containsPattern("Uid:\\s+107\\s+107\\s+107\\s+107").containsPattern("Gid:\\s+107\\s+107\\s+107\\s+107");
        // libvirt agreed with vmhandler's formula: it set QEMU to exactly the value vmhandler computed
        assertThat(RealLibvirtd.memlock(qemu)).containsExactly(bytes, bytes);
        // QEMU stayed in the pod (libvirt's cgroups are off), which is what lets PinVcpus accept it
        assertThat(QemuProbes.cpusetLine(qemu)).isEqualTo(QemuProbes.cpusetLine(libvirtd.pid()))
                .endsWith(":cpuset:/" + Path.of("/sys/fs/cgroup/cpuset").relativize(pod.cpuset));

        // libvirtd (root) opened the tap's queues itself and passed QEMU the fds
        int[] queues = QemuProbes.queueCounts(pod.netnsName, tap);
        assertThat(queues).as("numqueues, numdisabled of %s", tap).hasSize(2);
        System.out.printf("RealLibvirtDomainIT: %s numqueues %d numdisabled %d%n", tap, queues[0], queues[1]);
        assertThat(queues[0] + queues[1]).as("queues attached (numqueues + numdisabled)").isEqualTo(VCPUS);
        assertThat(QemuProbes.tunFds(qemu, tap)).isEqualTo(VCPUS);

        assertThat(QemuProbes.vcpuTids(qemu)).hasSize(VCPUS);
        BitSet all = CpuSet.parseList("0-" + (podCpus - 1));
        // before: every vCPU thread may run on every CPU of the pod, so a pin is a visible change
        assertThat(QemuProbes.affinity(QemuProbes.vcpuTid(qemu, 0))).isEqualTo(all);
        Cmd.Result pinned = pod.launcher(node.classpath, node.socket, "pin-vcpus", "--pid", Long.toString(qemu), "--json");
        assertThat(pinned.exit()).as(pinned.err()).isZero();
        for (int i = 0; i < VCPUS; i++) {
            BitSet cpus = QemuProbes.affinity(QemuProbes.vcpuTid(qemu, i));
            System.out.printf("RealLibvirtDomainIT: vCPU %d affinity %s%n", i, CpuSet.formatList(cpus));
            if (i < podCpus) {
                // dedicatedCpuPlacement: vCPU i gets the i-th CPU of the pod's cpuset
                assertThat(cpus).isEqualTo(CpuSet.parseList(Integer.toString(i)));
            } else {
                // no CPU left for it on this node: reported as skipped and left as it was
                assertThat(cpus).isEqualTo(all);
                assertThat(pinned.out()).contains("\"item\":\"vcpu " + i + "\"");
            }
        }

        Cmd.Result resumed = libvirtd.virsh("resume", "vmh-lv");
        assertThat(resumed.exit()).as(resumed.err() + libvirtd.domainLog("vmh-lv")).isZero();
        assertThat(libvirtd.virsh("domstate", "vmh-lv").ok().out().strip()).isEqualTo("running");
        libvirtd.virsh("destroy", "vmh-lv").ok();
    }

    @Test
    void aHardLimitAboveWhatThisNodeAllowsIsRefusedByVmhandlerAndByLibvirtAlike() throws Exception {
        String tap = prepareNetwork();
        String xml = domainXml("vmh-lv-16m", tap, 16384);
        Path xmlFile = Files.writeString(Files.createTempFile("vmh-lv-", ".xml"), xml);
        host.add(() -> xmlFile.toFile().delete());
        long[] before = RealLibvirtd.memlock(libvirtd.pid());
        CliRun apply = runCli("memlock", "apply", "--pid", Long.toString(libvirtd.pid()), "--domain-xml",
                xmlFile.toString(), "--libvirt-version", "9.0.0");
        Cmd.Result created = libvirtd.create(host, "vmh-lv-16m", xml, true);
        if (hasCapSysResource()) {
            // a real node: vmhandler raises libvirtd's limit, and libvirt then sets QEMU to it
            assertThat(apply.code()).as(apply.err()).isZero();
            assertThat(created.exit()).as(created.err()).isZero();
            assertThat(RealLibvirtd.memlock(libvirtd.qemuPid("vmh-lv-16m").orElseThrow()))
                    .containsExactly(16L << 20, 16L << 20);
            return;
        }
        assertThat(apply.code()).isNotZero();
        assertThat(apply.err()).contains("raising RLIMIT_MEMLOCK of pid " + libvirtd.pid())
                .contains("to 16777216 bytes was refused: no CAP_SYS_RESOURCE");
        assertThat(RealLibvirtd.memlock(libvirtd.pid())).containsExactly(before);
        assertThat(created.exit()).isNotZero();
        assertThat(created.err()).contains("cannot limit locked memory of process").contains("to 16777216")
                .contains("Operation not permitted");
        assertThat(libvirtd.qemuPid("vmh-lv-16m")).isEmpty();
    }

    @Test
    void libvirtCannotStartTheDomainOnceVmhandlerReleasedTheTap() throws Exception {
        String tap = prepareNetwork();
        Cmd.Result released = pod.launcher(node.classpath, node.socket, "release");
        assertThat(released.exit()).as(released.err()).isZero();
        // Release hands the tap to the background deleter (docs/launcher-api.md §3.5): gone shortly after
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
                .until(() -> !Cmd.run("ip", "-n", pod.netnsName, "link").ok().out().contains(tap));

        // libvirt does not make a tap for managed='no': the domain needs vmhandler's
        Cmd.Result created = libvirtd.create(host, "vmh-lv-notap", domainXml("vmh-lv-notap", tap, 0), true);
        assertThat(created.exit()).isNotZero();
        assertThat(created.err()).contains("target managed='no' but specified dev doesn't exist");
    }

    /** PrepareNetwork from uid 107 in the pod; returns the tap vmhandler chose. */
    private String prepareNetwork() {
        Cmd.Result r = pod.launcher(node.classpath, node.socket, "prepare-network", "--json");
        assertThat(r.exit()).as(r.err()).isZero();
        Map<?, ?> reply = (Map<?, ?>) json(r.out());
        Map<?, ?> first = (Map<?, ?>) ((List<?>) reply.get("taps")).get(0);
        assertThat(((Number) first.get("queues")).intValue()).isEqualTo(VCPUS);
        String tap = (String) first.get("name");
        host.add(() -> pod.launcher(node.classpath, node.socket, "release"));
        return tap;
    }

    /**
     * Why each element: type kvm uses the pod's /dev/kvm (qemu = TCG where there is none); no {@code <cpu>},
     * because host-passthrough aborts on this kvm-pvm (docs/test-host.md B3, point 2); no disk, USB controller or
     * balloon, nothing to boot; managed='no' makes libvirt use the existing tap instead of creating one;
     * driver qemu because this kernel has no vhost-net; queues must match the tap vmhandler made.
     */
    private static String domainXml(String name, String tap, long hardLimitKiB) {
        String memtune = hardLimitKiB == 0 ? ""
                : "<memtune><hard_limit unit='KiB'>" + hardLimitKiB + "</hard_limit></memtune>";
        return """
                <domain type='%s'>
                  <name>%s</name>
                  <memory unit='MiB'>128</memory>
                  <vcpu>%d</vcpu>
                  %s
                  <os><type arch='x86_64'>hvm</type></os>
                  <devices>
                    <controller type='usb' model='none'/>
                    <memballoon model='none'/>
                    <interface type='ethernet'>
                      <target dev='%s' managed='no'/>
                      <model type='virtio'/>
                      <driver name='qemu' queues='%d'/>
                    </interface>
                  </devices>
                </domain>
                """.formatted(Files.exists(Path.of("/dev/kvm")) ? "kvm" : "qemu", name, VCPUS, memtune, tap, VCPUS);
    }

    private record CliRun(int code, String out, String err) {}

    /** The vmhandler CLI as root on the node (the same entry point as the binary, in this JVM). */
    private static CliRun runCli(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.cli().run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new CliRun(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private static String cli(String... args) {
        CliRun r = runCli(args);
        assertThat(r.code()).as("vmhandler %s: %s", String.join(" ", args), r.err()).isZero();
        return r.out();
    }

    private static Object json(String text) {
        return new Load(LoadSettings.builder().build()).loadFromString(text);
    }

    private static boolean hasCapSysResource() throws Exception {
        Matcher m = Pattern.compile("CapEff:\\s+([0-9a-f]+)").matcher(Files.readString(Path.of("/proc/self/status")));
        return m.find() && (Long.parseUnsignedLong(m.group(1), 16) >>> 24 & 1) == 1;
    }
}
