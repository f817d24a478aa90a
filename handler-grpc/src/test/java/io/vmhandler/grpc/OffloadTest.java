package io.vmhandler.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.vmhandler.grpc.v1.GetInfoRequest;
import io.vmhandler.grpc.v1.InfoGrpc;
import io.vmhandler.grpc.v1.LauncherGrpc;
import io.vmhandler.grpc.v1.PrepareNetworkRequest;
import java.io.IOException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The daemon's threading of a call ({@code UnaryCall.offload}): gRPC runs the services on its own thread
 * (directExecutor), Info answers there, and each launcher call is handed exactly once to the offload executor,
 * where the backend runs with the caller's kernel identity and the call's deadline.
 */
class OffloadTest {
    private static final CallerIdentity CALLER = new CallerIdentity(4242, 107, 108);
    private final ExecutorService pool = Executors.newSingleThreadExecutor(r -> new Thread(r, "offload-test"));
    private final AtomicInteger handOffs = new AtomicInteger();
    private InProcessApi api;

    @AfterEach
    void stop() {
        if (api != null) {
            api.close();
        }
        pool.shutdownNow();
    }

    private final FakeLauncherBackend backend = new FakeLauncherBackend();
    /** Backend calls made while an offloaded task ran: the backend ran on the offload executor. */
    private final AtomicInteger offloadedCalls = new AtomicInteger();

    /** Counts hand-offs and runs each on the pool, noting the backend calls it made. */
    private void countingOffload(Runnable task) {
        handOffs.incrementAndGet();
        pool.execute(() -> {
            int before = backend.calls().size();
            task.run();
            offloadedCalls.addAndGet(backend.calls().size() - before);
        });
    }

    private void start(java.util.concurrent.Executor offload) throws IOException {
        api = new InProcessApi(backend, backend, 1024, 4, 1, offload);
    }

    @Test
    void aLauncherCallIsHandedOnceToTheOffloadExecutorWithItsIdentity() throws Exception {
        start(this::countingOffload);
        LauncherGrpc.newBlockingStub(api.channel(CALLER)).withDeadlineAfter(10, TimeUnit.SECONDS)
                .prepareNetwork(PrepareNetworkRequest.getDefaultInstance());

        assertThat(handOffs).hasValue(1);
        pool.shutdown();
        assertThat(pool.awaitTermination(5, TimeUnit.SECONDS)).isTrue();
        assertThat(offloadedCalls).hasValue(1);
        assertThat(backend.calls()).extracting(FakeLauncherBackend.Call::caller).containsExactly(CALLER);
    }

    @Test
    void infoIsAnsweredWithoutAHandOff() throws Exception {
        start(this::countingOffload);
        InfoGrpc.newBlockingStub(api.channel(CALLER)).withDeadlineAfter(10, TimeUnit.SECONDS)
                .getInfo(GetInfoRequest.getDefaultInstance());

        assertThat(handOffs).hasValue(0);
    }

    @Test
    void aCallTheExecutorRefusesIsUnavailableAndNeverReachesTheBackend() throws Exception {
        start(task -> {
            throw new RejectedExecutionException("stopping");
        });
        StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class, () ->
                LauncherGrpc.newBlockingStub(api.channel(CALLER)).withDeadlineAfter(10, TimeUnit.SECONDS)
                        .prepareNetwork(PrepareNetworkRequest.getDefaultInstance()));

        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
        assertThat(backend.calls()).isEmpty();
    }

    @Test
    void aCallWhoseDeadlinePassedWhileQueuedIsNotActedOn() throws Exception {
        start(task -> pool.execute(() -> {
            try {
                Thread.sleep(300); // queued behind other calls past the caller's deadline
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
            }
            task.run();
        }));
        StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class, () ->
                LauncherGrpc.newBlockingStub(api.channel(CALLER)).withDeadlineAfter(100, TimeUnit.MILLISECONDS)
                        .prepareNetwork(PrepareNetworkRequest.getDefaultInstance()));

        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
        pool.shutdown();
        assertThat(pool.awaitTermination(5, TimeUnit.SECONDS)).isTrue();
        assertThat(backend.calls()).as("the deadline travelled with the call's Context").isEmpty();
    }

    /** A {@link CallOffload} on the pool that runs what a task leaves for "after" once the task has returned. */
    private final class DeferringOffload implements CallOffload {
        final java.util.List<String> events = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
        private final ThreadLocal<java.util.List<Runnable>> after = ThreadLocal.withInitial(java.util.ArrayList::new);

        @Override
        public void execute(Runnable task) {
            pool.execute(() -> {
                task.run();
                events.add("task returned");
                java.util.List<Runnable> later = after.get();
                later.forEach(Runnable::run);
                later.clear();
            });
        }

        @Override
        public void afterTask(Runnable reply) {
            after.get().add(() -> {
                events.add("reply");
                reply.run();
            });
        }
    }

    @Test
    void onACallOffloadTheReplyGoesOutAfterTheTaskHasReturned() throws Exception {
        DeferringOffload offload = new DeferringOffload();
        start(offload);
        LauncherGrpc.newBlockingStub(api.channel(CALLER)).withDeadlineAfter(10, TimeUnit.SECONDS)
                .prepareNetwork(PrepareNetworkRequest.getDefaultInstance());

        assertThat(offload.events).containsExactly("task returned", "reply");
        assertThat(backend.calls()).extracting(FakeLauncherBackend.Call::caller).containsExactly(CALLER);
    }

    @Test
    void onACallOffloadAFailureIsAlsoRepliedAfterTheTaskHasReturned() throws Exception {
        DeferringOffload offload = new DeferringOffload();
        start(offload);
        backend.failWith(new IllegalArgumentException("interface_name: bad"));
        StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class, () ->
                LauncherGrpc.newBlockingStub(api.channel(CALLER)).withDeadlineAfter(10, TimeUnit.SECONDS)
                        .prepareNetwork(PrepareNetworkRequest.getDefaultInstance()));

        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(offload.events).containsExactly("task returned", "reply");
    }
}
