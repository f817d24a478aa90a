package io.vmhandler.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.cgroups.QosClass;
import io.vmhandler.cgroups.testing.KubeletCgroups;
import io.vmhandler.cli.demo.QemuProcess;
import io.vmhandler.core.pinning.PinTestSupport;
import io.vmhandler.nativeio.CpuSet;
import io.vmhandler.nativeio.Syscalls;
import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.Root;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** The two commands end to end, through Main's wiring, on a real QEMU in kubelet-named cgroups. */
class PinAndCgroupCommandIT {
    @RegisterExtension
    final HostCleanup host = new HostCleanup();

    @TempDir
    Path dir;

    @BeforeEach
    void root() {
        Root.require();
        Root.requireTool(QemuProcess.QEMU.toString());
    }

    @Test
    void cgroupPrintsTheResolvedFactsAndPinPrintsTheMap() throws Exception {
        String uid = KubeletCgroups.newPodUid();
        String id = KubeletCgroups.newContainerId();
        String path = KubeletCgroups.systemd("vmh" + HostCleanup.suffix(), QosClass.BURSTABLE, uid, "cri-containerd-" + id + ".scope");
        int pid = PinTestSupport.startPodQemu(host, path, "0-1", 1);

        PinCommandTest.Run c = PinCommandTest.run("cgroup", "--pid", Integer.toString(pid), "--json");
        assertThat(c.exit()).as(c.err()).isZero();
        assertThat(c.out()).contains("\"version\":\"v1\"", "\"podUid\":\"" + uid + "\"", "\"qosClass\":\"burstable\"",
                "\"containerId\":\"" + id + "\"", "\"runtime\":\"containerd\"", "\"driver\":\"systemd\"",
                "\"cpuset\":\"0-1\"", "\"cpuset\":\"" + path + "\"", "\"containerPath\":\"" + path + "\"");
        PinCommandTest.Run text = PinCommandTest.run("cgroup", "--pid", Integer.toString(pid));
        assertThat(text.out()).contains("pod UID:      " + uid, "container id: " + id, "runtime:      containerd (systemd driver)",
                "cpuset:       0-1", "version:      v1");

        Path vmi = dir.resolve("vmi.yaml");
        Files.writeString(vmi, """
                apiVersion: kubevirt.io/v1
                kind: VirtualMachineInstance
                metadata: {name: pinned, namespace: demo}
                spec:
                  domain:
                    cpu: {cores: 1, dedicatedCpuPlacement: true, isolateEmulatorThread: true}
                """);
        PinCommandTest.Run pin = PinCommandTest.run("pin", "--pid", Integer.toString(pid), "--vmi", vmi.toString());
        assertThat(pin.exit()).as(pin.out() + pin.err()).isZero();
        assertThat(pin.out()).contains("pid " + pid + " (vmi demo/pinned): dedicated, 1 vCPUs, CPUs 0-1 from the pod cgroup",
                "vcpu 0 -> cpu 0 (tid ", "housekeeping cpus 1: ", "cgroup " + path + "/housekeeping");
        PinCommandTest.Run json = PinCommandTest.run("pin", "--pid", Integer.toString(pid), "--vmi", vmi.toString(), "--json", "--cpus", "0-1");
        assertThat(json.exit()).isZero();
        assertThat(json.out()).contains("\"mode\":\"dedicated\"", "\"cpusSource\":\"--cpus\"", "\"vcpu\":0", "\"changed\":0,",
                "\"housekeeping\":{\"cpus\":\"1\"", "\"complete\":true", "\"skipped\":[]");

        // a VMI asking for a vCPU this QEMU has no thread for: exit 1 with the reason; vCPU 0 still pinned inside --cpus
        Files.writeString(vmi, Files.readString(vmi).replace("cores: 1", "cores: 2").replace(", isolateEmulatorThread: true", ""));
        PinCommandTest.Run small = PinCommandTest.run("pin", "--pid", Integer.toString(pid), "--vmi", vmi.toString(), "--cpus", "1");
        assertThat(small.exit()).isEqualTo(1);
        assertThat(small.out()).contains("vcpu 1: no-vcpu-thread");
        assertThat(CpuSet.formatList(Syscalls.getAffinity(pid))).isEqualTo("1");
    }

    @Test
    void aPidOutsideAnyPodHasNoPodUidAndAVanishedPidExitsOne() {
        int self = (int) ProcessHandle.current().pid();
        PinCommandTest.Run c = PinCommandTest.run("cgroup", "--pid", Integer.toString(self));
        assertThat(c.exit()).isZero();
        assertThat(c.out()).contains("pod UID:      none (not a kubelet pod cgroup)");
        PinCommandTest.Run gone = PinCommandTest.run("cgroup", "--pid", "4194304");
        assertThat(gone.exit()).isEqualTo(1);
        assertThat(gone.err()).contains("no process with pid 4194304");
    }
}
