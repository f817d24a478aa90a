package io.vmhandler.grpc.admin.v1;

import io.vmhandler.grpc.NodeStatus;
import java.time.Instant;
import java.util.Optional;

/** {@link NodeStatus} to {@code vmhandler.admin.v1} messages. Pure functions. */
final class AdminMapping {
    private AdminMapping() {}

    static GetNodeStatusResponse status(NodeStatus s) {
        GetNodeStatusResponse.Builder b = GetNodeStatusResponse.newBuilder().setNodeName(s.nodeName())
                .setDaemonVersion(s.daemonVersion()).setTakenAtUnixMs(s.takenAt().toEpochMilli())
                .setCheckpoint(CheckpointHealth.newBuilder().setDegraded(s.checkpoint().degraded())
                        .setDegradedReason(s.checkpoint().degradedReason())
                        .setPendingWrites(s.checkpoint().pendingWrites())
                        .setCorruptFiles(s.checkpoint().corruptFiles()))
                .setWatch(WatchState.newBuilder().setSource(s.watch().source()).setUp(s.watch().up())
                        .setSyncedAtUnixMs(millis(s.watch().syncedAt()))
                        .setLastEventUnixMs(millis(s.watch().lastEvent())));
        s.lastUnattributedError().ifPresent(e -> b.setLastUnattributedError(error(e)));
        for (NodeStatus.Vmi v : s.vmis()) {
            b.addVmis(vmi(v));
        }
        return b.build();
    }

    private static VmiStatus vmi(NodeStatus.Vmi v) {
        VmiStatus.Builder b = VmiStatus.newBuilder().setNamespace(v.namespace()).setName(v.name()).setUid(v.uid())
                .setPodUid(v.podUid());
        for (NodeStatus.Tap t : v.taps()) {
            b.addTaps(TapStatus.newBuilder().setInterfaceName(t.interfaceName()).setName(t.name())
                    .setQueues(t.queues()).setMtu(t.mtu()).setOwnerUid((int) t.ownerUid()).setOwnerGid((int) t.ownerGid()));
        }
        v.memlock().ifPresent(m -> b.setMemlock(MemlockStatus.newBuilder().setPid(m.pid()).setHostPid(m.hostPid())
                .setApplied(m.applied()).setUnlimited(m.unlimited()).setBytes(m.bytes()).setBranch(m.branch())
                .setLibvirtVersion(m.libvirtVersion()).setAtUnixMs(m.at().toEpochMilli())));
        v.pinning().ifPresent(p -> {
            PinningStatus.Builder pb = PinningStatus.newBuilder().setQemuHostPid(p.qemuHostPid())
                    .addAllHousekeepingCpus(p.housekeepingCpus()).setAtUnixMs(p.at().toEpochMilli());
            p.vcpus().forEach(c -> pb.addVcpus(VcpuCpus.newBuilder().setVcpu(c.vcpu()).addAllCpus(c.cpus())));
            b.setPinning(pb);
        });
        v.lastError().ifPresent(e -> b.setLastError(error(e)));
        return b.build();
    }

    private static CallError error(NodeStatus.CallError e) {
        return CallError.newBuilder().setMethod(e.method()).setCode(e.code()).setMessage(e.message())
                .setAtUnixMs(e.at().toEpochMilli()).setCaller(e.caller()).build();
    }

    private static long millis(Optional<Instant> t) {
        return t.map(Instant::toEpochMilli).orElse(0L);
    }
}
