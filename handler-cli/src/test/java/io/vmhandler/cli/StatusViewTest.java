package io.vmhandler.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.core.json.Json;
import io.vmhandler.grpc.admin.v1.CallError;
import io.vmhandler.grpc.admin.v1.CheckpointHealth;
import io.vmhandler.grpc.admin.v1.GetNodeStatusResponse;
import io.vmhandler.grpc.admin.v1.MemlockStatus;
import io.vmhandler.grpc.admin.v1.PinningStatus;
import io.vmhandler.grpc.admin.v1.TapStatus;
import io.vmhandler.grpc.admin.v1.VcpuCpus;
import io.vmhandler.grpc.admin.v1.VmiStatus;
import io.vmhandler.grpc.admin.v1.WatchState;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StatusViewTest {
    private static final long T = Instant.parse("2026-12-06T04:00:00Z").toEpochMilli();

    private static GetNodeStatusResponse sample() {
        VmiStatus full = VmiStatus.newBuilder().setNamespace("default").setName("vm-a").setUid("a-vmi").setPodUid("pod-a")
                .addTaps(TapStatus.newBuilder().setInterfaceName("default").setName("tap0").setQueues(2).setMtu(1500)
                        .setOwnerUid(107).setOwnerGid(107))
                .addTaps(TapStatus.newBuilder().setInterfaceName("second").setName("tap1").setQueues(1).setMtu(9000)
                        .setOwnerUid(107).setOwnerGid(107))
                .setMemlock(MemlockStatus.newBuilder().setPid(12).setHostPid(4711).setApplied(true).setBytes(1207959552L)
                        .setBranch("DEVICES").setLibvirtVersion("9.0.0").setAtUnixMs(T))
                .setPinning(PinningStatus.newBuilder().setQemuHostPid(4800)
                        .addVcpus(VcpuCpus.newBuilder().setVcpu(0).addCpus(2))
                        .addVcpus(VcpuCpus.newBuilder().setVcpu(1).addCpus(3))
                        .addAllHousekeepingCpus(List.of(0, 1, 5)).setAtUnixMs(T))
                .setLastError(CallError.newBuilder().setMethod("SetMemoryLock").setCode("FAILED_PRECONDITION")
                        .setMessage("the node refused the memlock limit").setAtUnixMs(T).setCaller("pid 9 uid 107 gid 107"))
                .build();
        VmiStatus bare = VmiStatus.newBuilder().setNamespace("default").setName("vm-b").setUid("b-vmi").build();
        return GetNodeStatusResponse.newBuilder().setNodeName("node1").setDaemonVersion("0.1.0").setTakenAtUnixMs(T)
                .setWatch(WatchState.newBuilder().setSource("files").setUp(true).setSyncedAtUnixMs(T))
                .setCheckpoint(CheckpointHealth.newBuilder().setDegraded(true).setDegradedReason("read-only file system")
                        .setPendingWrites(2))
                .addVmis(full).addVmis(bare).build();
    }

    @Test
    void textIsOneAlignedBlockPerVmiAfterTheNodeHeader() {
        assertThat(StatusView.text(sample())).isEqualTo("""
                node node1 (vmhandler 0.1.0), status at 2026-12-06T04:00:00Z
                watch       files, up, synced 2026-12-06T04:00:00Z, last VMI change never
                checkpoint  DEGRADED: read-only file system, 2 pending write(s), 0 corrupt file(s)
                2 VMI(s)

                VMI default/vm-a
                  uid         a-vmi
                  pod         pod-a
                  taps        tap0 (interface default): 2 queue(s), mtu 1500, owner 107:107
                              tap1 (interface second): 1 queue(s), mtu 9000, owner 107:107
                  memlock     1207959552 bytes, branch DEVICES, libvirt 9.0.0, pid 12 (host pid 4711), at 2026-12-06T04:00:00Z
                  pinning     vcpu 0->2 1->3, housekeeping 0-1,5, qemu host pid 4800, at 2026-12-06T04:00:00Z
                  last error  SetMemoryLock FAILED_PRECONDITION at 2026-12-06T04:00:00Z: the node refused the memlock limit (caller pid 9 uid 107 gid 107)

                VMI default/vm-b
                  uid         b-vmi
                  pod         none on this node
                  taps        none
                  memlock     none
                  pinning     none
                  last error  none
                """);
    }

    @Test
    void jsonIsOneObjectWithNullForWhatWasNotDone() {
        String json = Json.write(StatusView.json(sample()));
        assertThat(json).doesNotContain("\n");
        assertThat(json).startsWith("{\"node\":\"node1\",\"daemonVersion\":\"0.1.0\",\"takenAt\":\"2026-12-06T04:00:00Z\","
                + "\"watch\":{\"source\":\"files\",\"up\":true,\"syncedAt\":\"2026-12-06T04:00:00Z\",\"lastEventAt\":null},"
                + "\"checkpoint\":{\"degraded\":true,\"degradedReason\":\"read-only file system\",\"pendingWrites\":2,"
                + "\"corruptFiles\":0},\"lastUnattributedError\":null,\"vmis\":[");
        assertThat(json).contains("{\"name\":\"tap0\",\"interfaceName\":\"default\",\"queues\":2,\"mtu\":1500,"
                + "\"ownerUid\":107,\"ownerGid\":107}");
        assertThat(json).contains("\"memlock\":{\"pid\":12,\"hostPid\":4711,\"applied\":true,\"unlimited\":false,"
                + "\"bytes\":\"1207959552\",\"branch\":\"DEVICES\",\"libvirtVersion\":\"9.0.0\",\"at\":\"2026-12-06T04:00:00Z\"}");
        assertThat(json).contains("\"pinning\":{\"qemuHostPid\":4800,\"vcpus\":[{\"vcpu\":0,\"cpus\":[2]},{\"vcpu\":1,\"cpus\":[3]}],"
                + "\"housekeepingCpus\":[0,1,5]");
        assertThat(json).contains("\"lastError\":{\"method\":\"SetMemoryLock\",\"code\":\"FAILED_PRECONDITION\"");
        assertThat(json).endsWith("{\"namespace\":\"default\",\"name\":\"vm-b\",\"uid\":\"b-vmi\",\"podUid\":\"\",\"taps\":[],"
                + "\"memlock\":null,\"pinning\":null,\"lastError\":null}]}");
    }

    @Test
    void cpuListsUseTheKernelRangeFormat() {
        assertThat(StatusView.cpus(List.of(0, 1, 2, 3, 6, 8, 9))).isEqualTo("0-3,6,8-9");
        assertThat(StatusView.cpus(List.of(5))).isEqualTo("5");
        assertThat(StatusView.cpus(List.of())).isEmpty();
    }

    @Test
    void badUsageExitsTwoAndAnUnreachableDaemonExitsOneWithTheCodeName(@TempDir Path dir) throws Exception {
        CliRun extra = CliRun.of("status", "everything");
        assertThat(extra.exit()).isEqualTo(2);
        assertThat(extra.err()).startsWith("vmhandler status: status takes no arguments, got 'everything'");
        assertThat(CliRun.of("status", "--timeout", "0").exit()).isEqualTo(2);

        Path nothing = dir.resolve("no-daemon.sock");
        CliRun gone = CliRun.of("status", "--socket", nothing.toString(), "--timeout", "2");
        assertThat(gone.exit()).isEqualTo(1);
        assertThat(gone.err()).startsWith("UNAVAILABLE: ");
        assertThat(Files.exists(nothing)).isFalse();
    }
}
