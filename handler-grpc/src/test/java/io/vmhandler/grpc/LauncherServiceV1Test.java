package io.vmhandler.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.vmhandler.grpc.v1.GetInfoResponse;
import io.vmhandler.grpc.v1.InfoGrpc;
import io.vmhandler.grpc.v1.GetInfoRequest;
import io.vmhandler.grpc.v1.LauncherGrpc;
import io.vmhandler.grpc.v1.MemlockBranch;
import io.vmhandler.grpc.v1.PinVcpusRequest;
import io.vmhandler.grpc.v1.PinVcpusResponse;
import io.vmhandler.grpc.v1.PrepareNetworkRequest;
import io.vmhandler.grpc.v1.PrepareNetworkResponse;
import io.vmhandler.grpc.v1.ReleaseInterfaceRequest;
import io.vmhandler.grpc.v1.ReleaseRequest;
import io.vmhandler.grpc.v1.ReleaseResponse;
import io.vmhandler.grpc.v1.SchedPolicy;
import io.vmhandler.grpc.v1.SetMemoryLockRequest;
import io.vmhandler.grpc.v1.SetMemoryLockResponse;
import io.vmhandler.grpc.v1.Tap;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The v1 services through the real pipeline on grpc's in-process transport, with
 * {@link FakeLauncherBackend} standing in for handler-core's backend (see both classes for why).
 */
class LauncherServiceV1Test {
    private static final CallerIdentity CALLER = new CallerIdentity(4242, 107, 108);
    private final FakeLauncherBackend backend = new FakeLauncherBackend();
    private InProcessApi api;
    private LauncherGrpc.LauncherBlockingStub launcher;

    @BeforeEach
    void start() throws IOException {
        api = new InProcessApi(backend, 1024, 4, 4);
        launcher = LauncherGrpc.newBlockingStub(api.channel(CALLER)).withDeadlineAfter(10, TimeUnit.SECONDS);
    }

    @AfterEach
    void stop() {
        api.close();
    }

    @Test
    void prepareNetworkPassesTheKernelIdentityAndMapsEveryTapField() {
        PrepareNetworkResponse first = launcher.prepareNetwork(PrepareNetworkRequest.getDefaultInstance());
        PrepareNetworkResponse again = launcher.prepareNetwork(PrepareNetworkRequest.getDefaultInstance());

        assertThat(first.getTapsList()).containsExactly(Tap.newBuilder().setInterfaceName("default").setName("tap0")
                .setQueues(4).setMtu(1500).setOwnerUid(107).setOwnerGid(108).setCreated(true).build());
        assertThat(again.getTaps(0).getCreated()).isFalse();
        assertThat(backend.calls()).extracting(FakeLauncherBackend.Call::caller).containsOnly(CALLER);
    }

    @Test
    void setMemoryLockPassesPidAndVersionAndMapsTheFormula() {
        SetMemoryLockResponse r = launcher.setMemoryLock(SetMemoryLockRequest.newBuilder().setPid(77)
                .setLibvirtVersion("10.7.0").build());
        SetMemoryLockResponse dflt = launcher.setMemoryLock(SetMemoryLockRequest.newBuilder().setPid(78).build());

        assertThat(backend.calls()).extracting(FakeLauncherBackend.Call::args)
                .containsExactly(List.of(77, Optional.of("10.7.0")), List.of(78, Optional.empty()));
        assertThat(r.getPid()).isEqualTo(77);
        assertThat(r.getApplied()).isTrue();
        assertThat(r.getUnlimited()).isFalse();
        assertThat(r.getBytes()).isEqualTo(3L * 1024 * 1024 * 1024);
        assertThat(r.getBranch()).isEqualTo(MemlockBranch.MEMLOCK_BRANCH_DEVICES);
        assertThat(r.getTermsList()).extracting(t -> t.getName() + "=" + t.getValue() + " " + t.getUnit())
                .containsExactly("total_memory=2097152 KiB", "nvfio=1 count", "factor=1 count");
        assertThat(r.getExpression()).isEqualTo("(1 x 2097152 KiB + 1048576 KiB) x 1024");
        assertThat(r.getLibvirtVersion()).isEqualTo("10.7.0");
        assertThat(dflt.getLibvirtVersion()).isEqualTo("9.0.0");
    }

    @Test
    void pinVcpusMapsPinsEmulatorSetAndSkips() {
        PinVcpusResponse r = launcher.pinVcpus(PinVcpusRequest.newBuilder().setQemuPid(500).build());

        assertThat(r.getQemuPid()).isEqualTo(500);
        assertThat(r.getVcpusList()).extracting(v -> v.getVcpu() + ":" + v.getTid() + "->" + v.getCpusList()
                + " " + v.getPolicy() + "/" + v.getPriority())
                .containsExactly("0:501->[2] SCHED_POLICY_OTHER/0", "1:502->[3] SCHED_POLICY_FIFO/10");
        assertThat(r.getEmulatorCpusList()).containsExactly(0, 1);
        assertThat(r.getEmulatorTidsList()).containsExactly(500, 503);
        assertThat(r.hasKvmPit()).isTrue();
        assertThat(r.getKvmPit().getCpusList()).containsExactly(2);
        assertThat(r.getKvmPit().getPolicy()).isEqualTo(io.vmhandler.grpc.v1.SchedPolicy.SCHED_POLICY_FIFO);
        assertThat(r.getKvmPit().getPriority()).isEqualTo(2);
        assertThat(r.getSkipped(0).getItem()).isEqualTo("vcpu 2");
        assertThat(r.getSkipped(0).getReason()).isEqualTo("no dedicated CPU left");
        assertThat(SchedPolicy.SCHED_POLICY_FIFO.getNumber()).isEqualTo(2);
    }

    @Test
    void releaseReportsRemovedTapsAndWhatStays() {
        launcher.prepareNetwork(PrepareNetworkRequest.getDefaultInstance());
        ReleaseResponse r = launcher.release(ReleaseRequest.getDefaultInstance());
        ReleaseResponse again = launcher.release(ReleaseRequest.getDefaultInstance());

        assertThat(r.getRemovedTapsList()).containsExactly("tap0");
        assertThat(again.getRemovedTapsList()).isEmpty();
        assertThat(r.getSkipped(0).getItem()).isEqualTo("memlock");
    }

    @Test
    void infoListsTheApiVersionDaemonVersionAndNodeFacts() {
        GetInfoResponse r = InfoGrpc.newBlockingStub(api.channel(CALLER)).getInfo(GetInfoRequest.getDefaultInstance());

        assertThat(r.getApiVersionsList()).containsExactly("vmhandler.launcher.v1");
        assertThat(r.getDaemonVersion()).isEqualTo("0.1.0-test");
        assertThat(r.getNode().getNodeName()).isEqualTo("node-a");
        assertThat(r.getNode().getCgroupMode()).isEqualTo("HYBRID");
        assertThat(r.getNode().getTunDevice()).isTrue();
        assertThat(r.getNode().getCapabilitiesList()).extracting(c -> c.getName() + "=" + c.getAvailable() + ":" + c.getReason())
                .containsExactly("tap=true:", "memlock=false:no CAP_SYS_RESOURCE");
    }

    @Test
    void badPidsAreInvalidArgumentNamingTheFieldAndNeverReachTheBackend() {
        for (int pid : new int[] {0, -1, 4 * 1024 * 1024 + 1}) {
            StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
                    () -> launcher.setMemoryLock(SetMemoryLockRequest.newBuilder().setPid(pid).build()));
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(e.getStatus().getDescription()).isEqualTo("pid: must be between 1 and 4194304, got " + pid);
        }
        StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
                () -> launcher.pinVcpus(PinVcpusRequest.getDefaultInstance()));
        assertThat(e.getStatus().getDescription()).startsWith("qemu_pid: must be between 1 and 4194304");
        assertThat(backend.calls()).isEmpty();
    }

    @Test
    void badLibvirtVersionIsInvalidArgumentNamingTheField() {
        for (String v : List.of("9", "9.0.0.1", "nine", "9.0.0\n", "/etc/passwd")) {
            StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
                    () -> launcher.setMemoryLock(SetMemoryLockRequest.newBuilder().setPid(5).setLibvirtVersion(v).build()));
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(e.getStatus().getDescription()).startsWith("libvirt_version: must be MAJOR.MINOR or MAJOR.MINOR.MICRO")
                    .doesNotContain("passwd");
        }
        assertThat(backend.calls()).isEmpty();
    }

    @Test
    void releaseInterfaceNamesTheFieldForABadNameAndIsUnimplementedByDefault() {
        for (String bad : List.of("", "a/b", "../tap0", "x".repeat(254), "eth 0")) {
            StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class, () -> launcher.releaseInterface(
                    ReleaseInterfaceRequest.newBuilder().setInterfaceName(bad).build()));
            assertThat(e.getStatus().getCode()).as(bad).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(e.getStatus().getDescription()).as(bad).startsWith("interface_name: must be 1..253 characters");
        }
        assertThat(backend.calls()).isEmpty();
        // FakeLauncherBackend does not override it: the port's default answers for a daemon without hotplug
        StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class, () -> launcher.releaseInterface(
                ReleaseInterfaceRequest.newBuilder().setInterfaceName("net1").build()));
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNIMPLEMENTED);
    }

    @Test
    void backendRefusalsKeepTheirCodeAndMessage() {
        backend.failWith(LauncherException.permissionDenied("pid 77 is not in the caller's pod"));
        StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
                () -> launcher.pinVcpus(PinVcpusRequest.newBuilder().setQemuPid(77).build()));
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
        assertThat(e.getStatus().getDescription()).isEqualTo("pid 77 is not in the caller's pod");

        backend.failWith(LauncherException.conflict("tap0 exists with 1 queue, the VMI needs 4"));
        e = catchThrowableOfType(StatusRuntimeException.class, () -> launcher.prepareNetwork(PrepareNetworkRequest.getDefaultInstance()));
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    }

    @Test
    void unexpectedBackendFailuresReachTheCallerAsInternalWithoutPathsOrTraces() {
        backend.failWith(new IllegalStateException("cannot read /proc/4242/cgroup",
                new IOException("/sys/fs/cgroup/unified/kubepods.slice: EACCES")));
        StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
                () -> launcher.release(ReleaseRequest.getDefaultInstance()));

        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INTERNAL);
        assertThat(e.getStatus().getDescription()).matches("internal error \\(error id [0-9a-f]{12}, see the vmhandler log\\)");
        assertThat(e.getStatus().getCause()).isNull();
        assertThat(String.valueOf(e.getTrailers())).doesNotContain("/proc", "/sys", "Exception", "at io.");
    }

    @Test
    void aCallWithoutKernelCredentialsIsUnauthenticatedAndNeverReachesTheBackend() {
        LauncherGrpc.LauncherBlockingStub anonymous = LauncherGrpc.newBlockingStub(api.channel(null));
        StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
                () -> anonymous.prepareNetwork(PrepareNetworkRequest.getDefaultInstance()));
        StatusRuntimeException info = catchThrowableOfType(StatusRuntimeException.class,
                () -> InfoGrpc.newBlockingStub(api.channel(null)).getInfo(GetInfoRequest.getDefaultInstance()));

        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(info.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(backend.calls()).isEmpty();
    }

    @Test
    void malformedOversizedMissingAndRepeatedRequestsAreInvalidArgument() throws Exception {
        ManagedChannel ch = api.channel(CALLER);
        String method = LauncherGrpc.getSetMemoryLockMethod().getFullMethodName();
        byte[] valid = SetMemoryLockRequest.newBuilder().setPid(5).build().toByteArray();

        assertThat(raw(ch, method, List.of(new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff})).getCode())
                .isEqualTo(Status.Code.INVALID_ARGUMENT);
        Status oversized = raw(ch, method, List.of(SetMemoryLockRequest.newBuilder().setPid(5)
                .setLibvirtVersion("9".repeat(2000)).build().toByteArray()));
        assertThat(oversized.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(oversized.getDescription()).isEqualTo("SetMemoryLock request is larger than 1024 bytes");
        Status none = raw(ch, method, List.of());
        assertThat(none.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(none.getDescription()).isEqualTo("no request message for unary method SetMemoryLock");
        Status two = raw(ch, method, List.of(valid, valid));
        assertThat(two.getCode()).as(String.valueOf(two)).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(backend.calls()).isEmpty();
        // the same channel still works after the refusals
        assertThat(raw(ch, method, List.of(valid)).getCode()).isEqualTo(Status.Code.OK);
    }

    /** Sends raw request bytes (any number of messages) and returns the final status. */
    static Status raw(ManagedChannel ch, String fullMethod, List<byte[]> messages) throws Exception {
        MethodDescriptor.Marshaller<byte[]> bytes = new MethodDescriptor.Marshaller<>() {
            @Override
            public InputStream stream(byte[] value) {
                return new ByteArrayInputStream(value);
            }

            @Override
            public byte[] parse(InputStream stream) {
                try {
                    return stream.readAllBytes();
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            }
        };
        MethodDescriptor<byte[], byte[]> md = MethodDescriptor.<byte[], byte[]>newBuilder()
                .setType(MethodDescriptor.MethodType.UNARY).setFullMethodName(fullMethod)
                .setRequestMarshaller(bytes).setResponseMarshaller(bytes).build();
        ClientCall<byte[], byte[]> call = ch.newCall(md, CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS));
        CompletableFuture<Status> done = new CompletableFuture<>();
        call.start(new ClientCall.Listener<>() {
            @Override
            public void onClose(Status status, Metadata trailers) {
                done.complete(status);
            }
        }, new Metadata());
        call.request(1);
        for (byte[] m : messages) {
            call.sendMessage(m);
        }
        call.halfClose();
        return done.get(10, TimeUnit.SECONDS);
    }

}
