package io.vmhandler.grpc.v1;

import io.vmhandler.grpc.DaemonInfo;
import io.vmhandler.grpc.MemlockResult;
import io.vmhandler.grpc.PinResult;
import io.vmhandler.grpc.ReleaseResult;
import io.vmhandler.grpc.Skipped;
import io.vmhandler.grpc.TapResult;
import java.util.List;

/** Port results to {@code vmhandler.launcher.v1} messages. Pure functions. */
final class ProtoMapping {
    private ProtoMapping() {}

    static PrepareNetworkResponse network(List<TapResult> taps) {
        PrepareNetworkResponse.Builder b = PrepareNetworkResponse.newBuilder();
        for (TapResult t : taps) {
            b.addTaps(Tap.newBuilder().setInterfaceName(t.interfaceName()).setName(t.name()).setQueues(t.queues())
                    .setMtu(t.mtu()).setOwnerUid(t.ownerUid()).setOwnerGid(t.ownerGid()).setCreated(t.created()));
        }
        return b.build();
    }

    static SetMemoryLockResponse memlock(MemlockResult r) {
        SetMemoryLockResponse.Builder b = SetMemoryLockResponse.newBuilder().setPid(r.pid()).setApplied(r.applied())
                .setUnlimited(r.unlimited()).setBytes(r.bytes()).setBranch(branch(r.branch()))
                .setExpression(r.expression()).setLibvirtVersion(r.libvirtVersion());
        for (MemlockResult.Term t : r.terms()) {
            b.addTerms(FormulaTerm.newBuilder().setName(t.name()).setValue(t.value()).setUnit(t.unit()));
        }
        return b.build();
    }

    static PinVcpusResponse pinning(PinResult r) {
        PinVcpusResponse.Builder b = PinVcpusResponse.newBuilder().setQemuPid(r.qemuPid())
                .addAllEmulatorCpus(r.emulatorCpus()).addAllEmulatorTids(r.emulatorTids());
        for (PinResult.VcpuPin v : r.vcpus()) {
            b.addVcpus(VcpuPin.newBuilder().setVcpu(v.vcpu()).setTid(v.tid()).addAllCpus(v.cpus())
                    .setPolicy(v.policy() == PinResult.SchedPolicy.FIFO ? SchedPolicy.SCHED_POLICY_FIFO
                            : SchedPolicy.SCHED_POLICY_OTHER)
                    .setPriority(v.priority()));
        }
        r.skipped().forEach(s -> b.addSkipped(skipped(s)));
        r.kvmPit().ifPresent(k -> b.setKvmPit(io.vmhandler.grpc.v1.KvmPit.newBuilder().addAllCpus(k.cpus())
                .setPolicy(k.policy() == PinResult.SchedPolicy.FIFO ? SchedPolicy.SCHED_POLICY_FIFO
                        : SchedPolicy.SCHED_POLICY_OTHER).setPriority(k.priority())));
        return b.build();
    }

    static PrepareDevicesResponse devices(io.vmhandler.grpc.DevicesResult r) {
        PrepareDevicesResponse.Builder b = PrepareDevicesResponse.newBuilder();
        r.granted().forEach(g -> b.addGranted(GrantedDevice.newBuilder().setPath(g.path()).setDevice(g.device())
                .setChanged(g.changed())));
        r.skipped().forEach(s -> b.addSkipped(skipped(s)));
        r.sysctls().forEach(s -> b.addSysctls(SysctlSetting.newBuilder().setName(s.name()).setBefore(s.before())
                .setAfter(s.after())));
        return b.build();
    }

    static ReleaseResponse release(ReleaseResult r) {
        ReleaseResponse.Builder b = ReleaseResponse.newBuilder().addAllRemovedTaps(r.removedTaps());
        r.skipped().forEach(s -> b.addSkipped(skipped(s)));
        return b.build();
    }

    static ReleaseInterfaceResponse releaseInterface(ReleaseResult r) {
        ReleaseInterfaceResponse.Builder b = ReleaseInterfaceResponse.newBuilder().addAllRemovedTaps(r.removedTaps());
        r.skipped().forEach(s -> b.addSkipped(skipped(s)));
        return b.build();
    }

    static GetInfoResponse info(List<String> apiVersions, DaemonInfo d) {
        NodeFacts.Builder node = NodeFacts.newBuilder().setNodeName(d.nodeName()).setKernel(d.kernel())
                .setCgroupMode(d.cgroupMode()).setSelinuxMode(d.selinuxMode()).setTunDevice(d.tunDevice())
                .setKvmDevice(d.kvmDevice());
        for (DaemonInfo.Capability c : d.capabilities()) {
            node.addCapabilities(NodeCapability.newBuilder().setName(c.name()).setAvailable(c.available())
                    .setReason(c.reason()));
        }
        return GetInfoResponse.newBuilder().addAllApiVersions(apiVersions).setDaemonVersion(d.daemonVersion())
                .setNode(node).build();
    }

    private static MemlockBranch branch(MemlockResult.Branch b) {
        return switch (b) {
            case HARD_LIMIT -> MemlockBranch.MEMLOCK_BRANCH_HARD_LIMIT;
            case LOCKED -> MemlockBranch.MEMLOCK_BRANCH_LOCKED;
            case PPC64 -> MemlockBranch.MEMLOCK_BRANCH_PPC64;
            case DEVICES -> MemlockBranch.MEMLOCK_BRANCH_DEVICES;
            case NONE -> MemlockBranch.MEMLOCK_BRANCH_NONE;
        };
    }

    private static io.vmhandler.grpc.v1.Skipped skipped(Skipped s) {
        return io.vmhandler.grpc.v1.Skipped.newBuilder().setItem(s.item()).setReason(s.reason()).build();
    }
}
