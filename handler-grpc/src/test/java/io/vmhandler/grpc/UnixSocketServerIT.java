package io.vmhandler.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.DomainSocketAddress;
import io.vmhandler.grpc.client.LauncherClient;
import io.vmhandler.grpc.server.ServerOptions;
import io.vmhandler.grpc.server.UnixSocketServer;
import io.vmhandler.grpc.v1.LauncherGrpc;
import io.vmhandler.grpc.v1.PrepareNetworkResponse;
import io.vmhandler.grpc.v1.SetMemoryLockRequest;
import io.vmhandler.testing.Root;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real server on a real unix socket (grpc-netty, epoll, SO_PEERCRED), with
 * {@link FakeLauncherBackend} standing in for handler-core's backend.
 */
class UnixSocketServerIT {
    @TempDir
    Path tmp;
    private final FakeLauncherBackend backend = new FakeLauncherBackend();
    private final List<AutoCloseable> cleanup = new ArrayList<>();
    private Path socket;

    @BeforeEach
    void gate() {
        Root.require();
        socket = tmp.resolve("run/launcher.sock");
    }

    @AfterEach
    void tearDown() throws Exception {
        for (int i = cleanup.size() - 1; i >= 0; i--) {
            cleanup.get(i).close();
        }
    }

    private UnixSocketServer start(ServerOptions.Builder options) throws Exception {
        UnixSocketServer server = UnixSocketServer.startLauncherApi(options.build(), backend, backend);
        cleanup.add(server);
        return server;
    }

    private LauncherClient client(Duration deadline) {
        LauncherClient c = LauncherClient.connect(socket, deadline);
        cleanup.add(c);
        return c;
    }

    @Test
    void theServerSeesThisProcessThroughSoPeercred() throws Exception {
        start(ServerOptions.builder(socket));
        PrepareNetworkResponse r = client(Duration.ofSeconds(10)).prepareNetwork();

        CallerIdentity seen = backend.calls().get(0).caller();
        assertThat(seen.pid()).isEqualTo((int) ProcessHandle.current().pid());
        assertThat(seen.uid()).isZero();
        assertThat(seen.gid()).isZero();
        assertThat(r.getTaps(0).getOwnerUid()).isZero();
    }

    @Test
    void infoAnswersOverTheSocket() throws Exception {
        start(ServerOptions.builder(socket));
        assertThat(client(Duration.ofSeconds(10)).info().getApiVersionsList()).containsExactly("vmhandler.launcher.v1");
    }

    @Test
    void aClientOfAMissingSocketGetsUnavailable() {
        StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
                () -> client(Duration.ofSeconds(5)).info());
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    }

    @Test
    void internalFailuresNeverShowPathsOrStackTracesToTheCaller() throws Exception {
        start(ServerOptions.builder(socket));
        backend.failWith(new IllegalStateException("cannot read /proc/4242/cgroup",
                new java.io.IOException("/sys/fs/cgroup/unified/kubepods.slice/x: EACCES")));

        StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
                () -> client(Duration.ofSeconds(10)).pinVcpus(77));

        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INTERNAL);
        assertThat(e.getStatus().getDescription()).matches("internal error \\(error id [0-9a-f]{12}, see the vmhandler log\\)");
        assertThat(e.getStatus().getCause()).isNull();
        assertThat(String.valueOf(e.getTrailers())).doesNotContain("/proc", "/sys", "Exception", "\tat ");
        assertThat(e.getTrailers().keys()).doesNotContain("grpc-status-details-bin");
    }

    @Test
    void callsOverTheCallerLimitAreResourceExhaustedAndTheOthersAreServed() throws Exception {
        UnixSocketServer server = start(ServerOptions.builder(socket).maxConcurrentCallsPerCaller(2));
        LauncherClient client = client(Duration.ofSeconds(20));
        backend.closeGate();
        CompletableFuture<PrepareNetworkResponse> a = CompletableFuture.supplyAsync(client::prepareNetwork);
        CompletableFuture<PrepareNetworkResponse> b = CompletableFuture.supplyAsync(client::prepareNetwork);
        assertThat(backend.entered.tryAcquire(2, 10, TimeUnit.SECONDS)).isTrue();

        StatusRuntimeException third = catchThrowableOfType(StatusRuntimeException.class, client::release);
        assertThat(third.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
        assertThat(third.getStatus().getDescription()).isEqualTo("more than 2 concurrent calls from this process");
        assertThat(backend.calls()).hasSize(2);

        backend.open();
        assertThat(a.get(10, TimeUnit.SECONDS).getTapsCount()).isEqualTo(1);
        assertThat(b.get(10, TimeUnit.SECONDS).getTapsCount()).isEqualTo(1);
        assertThat(client.release().getRemovedTapsList()).containsExactly("tap0");
        CallerIdentity me = backend.calls().get(0).caller();
        assertThat(server.limiter().inFlight(me)).isZero();
    }

    @Test
    void requestsOverTheRequestLimitAreInvalidArgumentAndOverTheTransportCapResourceExhausted() throws Exception {
        start(ServerOptions.builder(socket).maxRequestBytes(1024).maxTransportMessageBytes(64 * 1024));
        LauncherClient client = client(Duration.ofSeconds(10));

        StatusRuntimeException big = catchThrowableOfType(StatusRuntimeException.class,
                () -> client.setMemoryLock(5, "1".repeat(4096)));
        assertThat(big.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(big.getStatus().getDescription()).isEqualTo("SetMemoryLock request is larger than 1024 bytes");

        StatusRuntimeException huge = catchThrowableOfType(StatusRuntimeException.class,
                () -> client.setMemoryLock(5, "1".repeat(128 * 1024)));
        assertThat(huge.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
        assertThat(backend.calls()).isEmpty();
        assertThat(client.setMemoryLock(5, "9.0.0").getPid()).isEqualTo(5);
    }

    @Test
    void malformedMissingAndRepeatedRequestsAreInvalidArgumentOverTheSocket() throws Exception {
        start(ServerOptions.builder(socket).maxRequestBytes(1024));
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        cleanup.add(() -> group.shutdownGracefully(0, 1, TimeUnit.SECONDS));
        ManagedChannel ch = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                .channelType(EpollDomainSocketChannel.class).eventLoopGroup(group).usePlaintext().build();
        cleanup.add(ch::shutdownNow);
        String method = LauncherGrpc.getSetMemoryLockMethod().getFullMethodName();
        byte[] valid = SetMemoryLockRequest.newBuilder().setPid(5).build().toByteArray();

        Status malformed = LauncherServiceV1Test.raw(ch, method, List.of(new byte[] {(byte) 0xff, (byte) 0xff}));
        Status none = LauncherServiceV1Test.raw(ch, method, List.of());
        Status two = LauncherServiceV1Test.raw(ch, method, List.of(valid, valid));

        assertThat(malformed.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(malformed.getDescription()).isEqualTo("SetMemoryLock request is not a valid protobuf message");
        assertThat(none.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(two.getCode()).as(String.valueOf(two)).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(backend.calls()).isEmpty();
    }

    @Test
    void aSlowBackendGivesTheCallerDeadlineExceeded() throws Exception {
        start(ServerOptions.builder(socket));
        backend.closeGate();
        long t0 = System.nanoTime();
        StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
                () -> client(Duration.ofMillis(300)).prepareNetwork());
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        backend.open();

        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
        assertThat(ms).isBetween(250L, 5000L);
    }

    @Test
    void aCallWhoseDeadlinePassedWhileQueuedIsNeverActedOn() throws Exception {
        start(ServerOptions.builder(socket).workerThreads(1));
        LauncherClient client = client(Duration.ofSeconds(20));
        backend.closeGate();
        CompletableFuture<PrepareNetworkResponse> first = CompletableFuture.supplyAsync(client::prepareNetwork);
        assertThat(backend.entered.tryAcquire(1, 10, TimeUnit.SECONDS)).isTrue();

        // the only worker is busy: this call waits in the queue until its deadline is gone
        StatusRuntimeException late = catchThrowableOfType(StatusRuntimeException.class,
                () -> client.withDeadline(Duration.ofMillis(200)).setMemoryLock(5));
        Thread.sleep(200);
        backend.open();
        first.get(10, TimeUnit.SECONDS);

        assertThat(late.getStatus().getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
        assertThat(client.info().getDaemonVersion()).isEqualTo("0.1.0-test"); // the queue has drained
        assertThat(backend.calls()).extracting(FakeLauncherBackend.Call::method).doesNotContain("SetMemoryLock");
    }

    @Test
    void stopLetsCallsInFlightFinishThenRemovesTheSocket() throws Exception {
        UnixSocketServer server = start(ServerOptions.builder(socket).shutdownGrace(Duration.ofSeconds(10)));
        LauncherClient client = client(Duration.ofSeconds(20));
        backend.closeGate();
        CompletableFuture<PrepareNetworkResponse> inFlight = CompletableFuture.supplyAsync(client::prepareNetwork);
        assertThat(backend.entered.tryAcquire(1, 10, TimeUnit.SECONDS)).isTrue();

        CompletableFuture<Void> stopping = CompletableFuture.runAsync(server::stop);
        Thread.sleep(300);
        assertThat(stopping).isNotDone();
        backend.open();
        stopping.get(15, TimeUnit.SECONDS);

        assertThat(inFlight.get(10, TimeUnit.SECONDS).getTapsCount()).isEqualTo(1);
        assertThat(Files.exists(socket, java.nio.file.LinkOption.NOFOLLOW_LINKS)).isFalse();
        assertThat(Files.list(socket.getParent()).toList()).isEmpty();
        assertThat(catchThrowableOfType(java.io.IOException.class,
                () -> SocketChannel.open(UnixDomainSocketAddress.of(socket)))).isNotNull();
    }

    @Test
    void stopCancelsCallsStillRunningAfterTheGrace() throws Exception {
        UnixSocketServer server = start(ServerOptions.builder(socket).shutdownGrace(Duration.ofMillis(200)));
        LauncherClient client = client(Duration.ofSeconds(20));
        backend.closeGate();
        CompletableFuture<PrepareNetworkResponse> inFlight = CompletableFuture.supplyAsync(client::prepareNetwork);
        assertThat(backend.entered.tryAcquire(1, 10, TimeUnit.SECONDS)).isTrue();

        long t0 = System.nanoTime();
        server.stop();
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        backend.open();

        assertThat(ms).isLessThan(8000);
        Throwable failed = catchThrowableOfType(java.util.concurrent.ExecutionException.class,
                () -> inFlight.get(10, TimeUnit.SECONDS)).getCause();
        assertThat(failed).isInstanceOf(StatusRuntimeException.class);
        assertThat(((StatusRuntimeException) failed).getStatus().getCode())
                .isIn(Status.Code.UNAVAILABLE, Status.Code.CANCELLED);
        assertThat(Files.exists(socket, java.nio.file.LinkOption.NOFOLLOW_LINKS)).isFalse();
    }
}
