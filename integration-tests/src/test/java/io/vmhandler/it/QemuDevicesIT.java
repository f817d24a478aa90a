package io.vmhandler.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.cli.demo.QemuProcess;
import io.vmhandler.core.devices.DeviceSettings;
import io.vmhandler.core.devices.DevicesReport;
import io.vmhandler.core.model.VmiDocument;
import io.vmhandler.grpc.podresources.v1.ListPodResourcesResponse;
import io.vmhandler.nativeio.NetNamespace;
import io.vmhandler.net.IoctlTapDevices;
import io.vmhandler.net.TapSpec;
import io.vmhandler.proc.ProcFs;
import io.vmhandler.proc.ProcessRef;
import io.vmhandler.testing.Cmd;
import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.Root;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Real QEMU as uid 107 without capabilities, inside a pod with its own mount namespace (tmpfs /dev of
 * root-owned 0600 nodes) and netns, holding a tap owned by 107: it cannot open /dev/net/tun (nor
 * /dev/kvm) before PrepareDevices' grant and runs attached to the tap after it. The grant uses the
 * node's real /dev as the host facts, so /dev/kvm is asked for exactly when this machine has KVM.
 */
class QemuDevicesIT {
    @RegisterExtension
    final HostCleanup host = new HostCleanup();

    @Test
    void qemuOpensTunTheTapAndKvmOnlyAfterTheGrant() throws Exception {
        Root.require();
        Root.requireTool(QemuProcess.QEMU.toString());
        boolean kvm = Files.exists(Path.of("/dev/kvm"));
        Path work = Files.createTempDirectory("vmh-qdev-");
        host.add(() -> Cmd.run("rm", "-rf", work.toString()));
        Cmd.run("chmod", "755", work.toString()).ok();
        FakePodResources kubelet = FakePodResources.start(host, work, ListPodResourcesResponse.getDefaultInstance());
        DevicePod pod = new DevicePod(host, "0");
        try (NetNamespace runner = new NetNamespace("qemu-dev-it", 1)) {
            new IoctlTapDevices(runner).create(pod.pod.netnsPath, new TapSpec("tap0", 1, 107, 107, null));

            Cmd.Result tcgBefore = runQemu(pod, work, "tcg", 1);
            assertThat(tcgBefore.out()).as("qemu -accel tcg before the grant").contains("/dev/net/tun")
                    .containsIgnoringCase("permission denied");
            if (kvm) {
                Cmd.Result kvmBefore = runQemu(pod, work, "kvm", 2);
                assertThat(kvmBefore.out()).as("qemu -accel kvm before the grant").containsIgnoringCase("kvm")
                        .containsIgnoringCase("permission denied");
            }

            Process launcher = pod.launcher();
            DevicesReport report;
            try (ProcessRef ref = ProcessRef.open(ProcFs.host(), (int) launcher.pid())) {
                report = new DeviceSettings(Path.of("/dev"), work.resolve("sys"), kubelet.socket)
                        .podDevices(ProcFs.DEFAULT_ROOT, runner)
                        .prepare(ref, VmiDocument.parse(pod.pod.vmi("qvm", "node1", "")), 107, 107);
            }
            assertThat(report.granted()).extracting(g -> g.node().podPath()).contains("/dev/net/tun");
            if (kvm) {
                assertThat(report.granted()).extracting(g -> g.node().podPath()).contains("/dev/kvm");
            }

            Process qemu = startQemu(pod, work, kvm ? "kvm" : "tcg", 3);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (QemuProbes.tunFds(qemu.pid(), "tap0") != 1 && qemu.isAlive() && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            String log = Files.exists(work.resolve("qemu-3.log")) ? Files.readString(work.resolve("qemu-3.log")) : "";
            assertThat(qemu.isAlive()).as("qemu after the grant; output: %s", log).isTrue();
            assertThat(QemuProbes.tunFds(qemu.pid(), "tap0")).as("tap0 queues held by qemu").isEqualTo(1);
            if (kvm) {
                assertThat(Cmd.run("ls", "-l", "/proc/" + qemu.pid() + "/fd").out()).contains("/dev/kvm");
            }
            String status = Files.readString(Path.of("/proc/" + qemu.pid() + "/status"));
            assertThat(status).containsPattern("Uid:\\s+107\\s+107\\s+107\\s+107")
                    .contains("CapEff:\t0000000000000000").contains("CapBnd:\t0000000000000000");
            System.out.println("QemuDevicesIT: accel " + (kvm ? "kvm" : "tcg") + ", granted "
                    + report.granted().stream().map(g -> g.node().podPath()).toList());
        }
    }

    private static List<String> qemuArgv(DevicePod pod, String accel) {
        List<String> argv = new ArrayList<>(List.of(QemuProcess.QEMU.toString(), "-name", "vmh-dev,debug-threads=on",
                "-accel", accel, "-S", "-nodefaults", "-no-user-config", "-display", "none", "-m", "64",
                "-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no,vhost=off",
                "-device", "virtio-net-pci,netdev=n0"));
        return pod.asLauncher(argv.toArray(String[]::new));
    }

    /** A QEMU that is expected to fail at once. */
    private Cmd.Result runQemu(DevicePod pod, Path work, String accel, int n) throws Exception {
        Process p = startQemu(pod, work, accel, n);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("qemu %s exits", accel).isTrue();
        assertThat(p.exitValue()).isNotZero();
        return new Cmd.Result(p.exitValue(), Files.readString(work.resolve("qemu-" + n + ".log")), "");
    }

    private Process startQemu(DevicePod pod, Path work, String accel, int n) {
        return host.process(new ProcessBuilder(qemuArgv(pod, accel)).redirectErrorStream(true)
                .redirectOutput(work.resolve("qemu-" + n + ".log").toFile()));
    }
}
