package io.vmhandler.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.vmhandler.grpc.v1.GrantedDevice;
import io.vmhandler.grpc.v1.LauncherGrpc;
import io.vmhandler.grpc.v1.PrepareDevicesRequest;
import io.vmhandler.grpc.v1.PrepareDevicesResponse;
import io.vmhandler.grpc.v1.SysctlSetting;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * PrepareDevices through the real pipeline on the in-process transport: the kernel identity reaches the
 * port, every result field is mapped, a backend without the call answers UNIMPLEMENTED, and a refusal
 * is FAILED_PRECONDITION with its description.
 */
class PrepareDevicesServiceTest {
    private static final CallerIdentity CALLER = new CallerIdentity(4242, 107, 108);

    private static <T> T withApi(LauncherBackend backend, java.util.function.Function<LauncherGrpc.LauncherBlockingStub, T> f)
            throws IOException {
        try (InProcessApi api = new InProcessApi(backend, new FakeLauncherBackend(), 1024, 4, 4)) {
            return f.apply(LauncherGrpc.newBlockingStub(api.channel(CALLER)).withDeadlineAfter(10, TimeUnit.SECONDS));
        }
    }

    @Test
    void mapsEveryFieldAndPassesTheKernelIdentity() throws IOException {
        AtomicReference<CallerIdentity> seen = new AtomicReference<>();
        FakeLauncherBackend fake = new FakeLauncherBackend();
        LauncherBackend backend = new DelegatingBackend(fake) {
            @Override
            public DevicesResult prepareDevices(CallerIdentity caller) {
                seen.set(caller);
                return new DevicesResult(List.of(new DevicesResult.Granted("/dev/kvm", "10:232", true)),
                        List.of(new Skipped("/dev/vhost-vsock", "the VMI does not ask for vsock")),
                        List.of(new DevicesResult.Sysctl("net.ipv4.ping_group_range", "1 0", "108 108")));
            }
        };
        PrepareDevicesResponse r = withApi(backend, s -> s.prepareDevices(PrepareDevicesRequest.getDefaultInstance()));
        assertThat(seen.get()).isEqualTo(CALLER);
        assertThat(r.getGrantedList()).containsExactly(
                GrantedDevice.newBuilder().setPath("/dev/kvm").setDevice("10:232").setChanged(true).build());
        assertThat(r.getSkipped(0).getItem()).isEqualTo("/dev/vhost-vsock");
        assertThat(r.getSysctlsList()).containsExactly(SysctlSetting.newBuilder().setName("net.ipv4.ping_group_range")
                .setBefore("1 0").setAfter("108 108").build());
    }

    @Test
    void aBackendWithoutTheCallAnswersUnimplemented() {
        assertThatThrownBy(() -> withApi(new FakeLauncherBackend(),
                s -> s.prepareDevices(PrepareDevicesRequest.getDefaultInstance())))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNIMPLEMENTED);
                    assertThat(e.getStatus().getDescription()).contains("PrepareDevices is not offered");
                });
    }

    @Test
    void aRefusedNodeIsFailedPreconditionWithItsDescription() {
        LauncherBackend backend = new DelegatingBackend(new FakeLauncherBackend()) {
            @Override
            public DevicesResult prepareDevices(CallerIdentity caller) {
                throw LauncherException.conflict("refused device node(s): dev/kvm in the pod: is a FIFO, not a character device");
            }
        };
        assertThatThrownBy(() -> withApi(backend, s -> s.prepareDevices(PrepareDevicesRequest.getDefaultInstance())))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
                    assertThat(e.getStatus().getDescription()).contains("dev/kvm in the pod: is a FIFO");
                });
    }

    /** The fake for every other call; subclasses override prepareDevices. */
    private static class DelegatingBackend implements LauncherBackend {
        private final LauncherBackend d;

        DelegatingBackend(LauncherBackend d) {
            this.d = d;
        }

        @Override
        public List<TapResult> prepareNetwork(CallerIdentity caller) {
            return d.prepareNetwork(caller);
        }

        @Override
        public MemlockResult setMemoryLock(CallerIdentity caller, int pid, java.util.Optional<String> libvirtVersion) {
            return d.setMemoryLock(caller, pid, libvirtVersion);
        }

        @Override
        public PinResult pinVcpus(CallerIdentity caller, int qemuPid) {
            return d.pinVcpus(caller, qemuPid);
        }

        @Override
        public ReleaseResult release(CallerIdentity caller) {
            return d.release(caller);
        }
    }
}
