package io.vmhandler.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.vmhandler.grpc.v1.LauncherGrpc;
import io.vmhandler.grpc.v1.PrepareNetworkRequest;
import io.vmhandler.grpc.v1.PrepareNetworkResponse;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The per-caller cap on the in-process transport, where the test can give calls different kernel
 * identities; {@link FakeLauncherBackend} stands in for handler-core's backend.
 */
class PerCallerLimitTest {
    private static final CallerIdentity A = new CallerIdentity(100, 107, 107);
    private static final CallerIdentity A_OTHER_PROCESS = new CallerIdentity(101, 107, 107);
    private static final CallerIdentity B = new CallerIdentity(200, 108, 108);
    private final FakeLauncherBackend backend = new FakeLauncherBackend();
    private InProcessApi api;

    @BeforeEach
    void start() throws Exception {
        api = new InProcessApi(backend, 1024, 1, 8);
    }

    @AfterEach
    void stop() {
        backend.open();
        api.close();
    }

    private LauncherGrpc.LauncherBlockingStub stub(CallerIdentity caller, long millis) {
        return LauncherGrpc.newBlockingStub(api.channel(caller)).withDeadlineAfter(millis, TimeUnit.MILLISECONDS);
    }

    private CompletableFuture<PrepareNetworkResponse> async(CallerIdentity caller) {
        LauncherGrpc.LauncherBlockingStub s = stub(caller, 20_000);
        return CompletableFuture.supplyAsync(() -> s.prepareNetwork(PrepareNetworkRequest.getDefaultInstance()));
    }

    @Test
    void eachCallerHasItsOwnCapAndOthersAreServedMeanwhile() throws Exception {
        backend.closeGate();
        CompletableFuture<PrepareNetworkResponse> a = async(A);
        assertThat(backend.entered.tryAcquire(10, TimeUnit.SECONDS)).isTrue();

        StatusRuntimeException over = catchThrowableOfType(StatusRuntimeException.class,
                () -> stub(A, 5000).prepareNetwork(PrepareNetworkRequest.getDefaultInstance()));
        assertThat(over.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);

        CompletableFuture<PrepareNetworkResponse> otherProcess = async(A_OTHER_PROCESS);
        CompletableFuture<PrepareNetworkResponse> b = async(B);
        assertThat(backend.entered.tryAcquire(2, 10, TimeUnit.SECONDS)).as("A's other process and B reach the backend").isTrue();

        backend.open();
        assertThat(a.get(10, TimeUnit.SECONDS).getTaps(0).getOwnerUid()).isEqualTo(107);
        assertThat(otherProcess.get(10, TimeUnit.SECONDS).getTapsCount()).isEqualTo(1);
        assertThat(b.get(10, TimeUnit.SECONDS).getTaps(0).getOwnerUid()).isEqualTo(108);
        assertThat(api.pipeline().limiter().inFlight(A)).isZero();
        assertThat(api.pipeline().limiter().inFlight(B)).isZero();
    }

    @Test
    void aCallerThatWaitsForEachReplyIsNeverRefusedEvenAtACapOfOne() {
        LauncherGrpc.LauncherBlockingStub a = LauncherGrpc.newBlockingStub(api.channel(A));
        for (int i = 0; i < 300; i++) {
            a.withDeadlineAfter(5, TimeUnit.SECONDS).prepareNetwork(PrepareNetworkRequest.getDefaultInstance());
        }
        assertThat(backend.calls()).hasSize(300);
    }

    @Test
    void aCallThatTimedOutKeepsItsSlotUntilTheBackendReturns() throws Exception {
        backend.closeGate();
        StatusRuntimeException late = catchThrowableOfType(StatusRuntimeException.class,
                () -> stub(A, 300).prepareNetwork(PrepareNetworkRequest.getDefaultInstance()));
        assertThat(late.getStatus().getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);

        // the backend still works on the first call: tiny deadlines must not let a caller pile up work
        StatusRuntimeException over = catchThrowableOfType(StatusRuntimeException.class,
                () -> stub(A, 5000).prepareNetwork(PrepareNetworkRequest.getDefaultInstance()));
        assertThat(over.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);

        backend.open();
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (api.pipeline().limiter().inFlight(A) != 0 && System.nanoTime() < until) {
            Thread.sleep(10);
        }
        assertThat(api.pipeline().limiter().inFlight(A)).isZero();
        assertThat(stub(A, 5000).prepareNetwork(PrepareNetworkRequest.getDefaultInstance()).getTapsCount()).isEqualTo(1);
    }
}
