package io.vmhandler.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.vmhandler.grpc.client.LauncherClient;
import io.vmhandler.grpc.server.ApiPipeline;
import io.vmhandler.grpc.server.PeerCredentialsNegotiator;
import io.vmhandler.grpc.server.ServerOptions;
import io.vmhandler.grpc.server.UnixSocketServer;
import io.vmhandler.grpc.v1.InfoServiceV1;
import io.vmhandler.grpc.v1.LauncherGrpc;
import io.vmhandler.grpc.v1.LauncherServiceV1;
import io.vmhandler.grpc.v1.PrepareNetworkRequest;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link PeerCredentialsNegotiator} on real connections, as whoever runs the test (no root needed): over the unix
 * socket the caller is this very process as /proc/self/status numbers it; over any other transport there is no
 * SO_PEERCRED and every call is UNAUTHENTICATED. PeerCredentialsIT covers a caller with another uid.
 */
class PeerCredentialsNegotiatorTest {
    @TempDir
    Path tmp;

    private final FakeLauncherBackend backend = new FakeLauncherBackend();

    /** The real uid or gid of this process: the first of the four ids on its Uid:/Gid: line (proc(5)). */
    private static int own(String key) throws Exception {
        return Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith(key + ":"))
                .map(l -> Integer.parseInt(l.substring(key.length() + 1).trim().split("\\s+")[0])).findFirst().orElseThrow();
    }

    @Test
    void overTheUnixSocketTheCallerIsThisProcess() throws Exception {
        Path socket = tmp.resolve("launcher.sock");
        try (UnixSocketServer server = UnixSocketServer.startLauncherApi(ServerOptions.builder(socket).build(), backend, backend);
             LauncherClient client = LauncherClient.connect(socket, Duration.ofSeconds(10))) {
            client.prepareNetwork();
            client.prepareNetwork();
        }
        assertThat(backend.calls()).hasSize(2);
        CallerIdentity expected = new CallerIdentity((int) ProcessHandle.current().pid(), own("Uid"), own("Gid"));
        assertThat(backend.calls()).extracting(FakeLauncherBackend.Call::caller).containsOnly(expected);
    }

    @Test
    void overTcpThereIsNoCallerAndTheCallIsUnauthenticated() throws Exception {
        NettyServerBuilder b = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                .protocolNegotiator(new PeerCredentialsNegotiator());
        new ApiPipeline(1024, 4).wrap(List.of(new LauncherServiceV1(backend), new InfoServiceV1(backend))).forEach(b::addService);
        Server server = b.build().start();
        ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", server.getPort()).usePlaintext().build();
        try {
            StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class, () -> LauncherGrpc
                    .newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
                    .prepareNetwork(PrepareNetworkRequest.getDefaultInstance()));
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
            assertThat(e.getStatus().getDescription()).isEqualTo("no SO_PEERCRED credentials for this connection");
            assertThat(backend.calls()).isEmpty();
        } finally {
            ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void eachConnectionHasItsOwnScopeClosedWhenTheConnectionCloses() throws Exception {
        Path socket = tmp.resolve("launcher.sock");
        java.util.concurrent.atomic.AtomicInteger closedValues = new java.util.concurrent.atomic.AtomicInteger();
        try (UnixSocketServer server = UnixSocketServer.startLauncherApi(ServerOptions.builder(socket).build(), backend, backend)) {
            for (int round = 0; round < 2; round++) {
                try (LauncherClient client = LauncherClient.connect(socket, Duration.ofSeconds(10))) {
                    client.prepareNetwork();
                    client.prepareNetwork();
                }
            }
            List<ConnectionScope> scopes = backend.calls().stream().map(c -> c.caller().connection()).toList();
            assertThat(scopes).hasSize(4);
            assertThat(scopes.get(1)).isSameAs(scopes.get(0));
            assertThat(scopes.get(3)).isSameAs(scopes.get(2)).isNotSameAs(scopes.get(0));
            // the client has gone: its connection's scope is closed from the server's event loop, soon
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!(scopes.get(0).isClosed() && scopes.get(2).isClosed()) && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertThat(scopes.get(0).isClosed()).isTrue();
            assertThat(scopes.get(2).isClosed()).isTrue();
            assertThat(scopes.get(0).keep("k", closedValues::incrementAndGet)).isFalse();
        }
    }

    @Test
    void aCallerIdentityNeedsAPidAndPrintsAllThreeIds() {
        assertThat(new CallerIdentity(1, 2, 3)).hasToString("pid 1 uid 2 gid 3");
        // the connection a caller came on is not part of who it is
        assertThat(new CallerIdentity(1, 2, 3, ConnectionScope.open())).isEqualTo(new CallerIdentity(1, 2, 3))
                .hasSameHashCodeAs(new CallerIdentity(1, 2, 3)).isNotEqualTo(new CallerIdentity(1, 2, 4));
        assertThat(catchThrowableOfType(IllegalArgumentException.class, () -> new CallerIdentity(0, 0, 0)))
                .hasMessage("pid: must be > 0, got 0");
    }
}
