package io.vmhandler.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.grpc.client.LauncherClient;
import io.vmhandler.grpc.server.ServerOptions;
import io.vmhandler.grpc.server.UnixSocketServer;
import io.vmhandler.testing.Root;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Transport cost of the launcher API over the real unix socket, against a raw unix-socket round trip in
 * the same run: Info and PrepareNetwork (with {@link FakeLauncherBackend} standing in for the real
 * backend, so this measures gRPC + pipeline only), 1 and 16 concurrent callers, each on its own
 * connection. All callers are threads of this process, so the per-caller cap is raised to 16 here.
 * Prints the table; asserts only that every call succeeded.
 */
class LauncherApiBenchmarkIT {
    private static final Duration WARMUP = Duration.ofMillis(Long.getLong("bench.warmupMillis", 1000));
    private static final Duration RUN = Duration.ofMillis(Long.getLong("bench.runMillis", 1000));

    @TempDir
    Path tmp;

    @Test
    void infoAndPrepareNetworkAgainstARawRoundTrip() throws Exception {
        Root.require();
        FakeLauncherBackend backend = new FakeLauncherBackend();
        Path socket = tmp.resolve("run/launcher.sock");
        List<ApiBenchmark.Result> results = new ArrayList<>();
        try (UnixSocketServer server = UnixSocketServer.startLauncherApi(ServerOptions.builder(socket)
                .maxConcurrentCallsPerCaller(16).workerThreads(16).build(), backend, backend);
             ApiBenchmark.Echo echo = new ApiBenchmark.Echo(tmp.resolve("echo.sock"))) {
            assertThat(server.socket()).isEqualTo(socket);
            for (int threads : new int[] {1, 16}) {
                SocketChannel[] raw = new SocketChannel[threads];
                ByteBuffer[] bufs = new ByteBuffer[threads];
                LauncherClient[] clients = new LauncherClient[threads];
                for (int i = 0; i < threads; i++) {
                    raw[i] = echo.connect();
                    bufs[i] = ByteBuffer.allocateDirect(8);
                    clients[i] = LauncherClient.connect(socket, Duration.ofSeconds(10));
                }
                try {
                    results.add(ApiBenchmark.measure("raw unix round trip", threads, WARMUP, RUN,
                            t -> ApiBenchmark.Echo.roundTrip(raw[t], bufs[t])));
                    results.add(ApiBenchmark.measure("Info", threads, WARMUP, RUN, t -> clients[t].info()));
                    results.add(ApiBenchmark.measure("PrepareNetwork (fake)", threads, WARMUP, RUN,
                            t -> clients[t].prepareNetwork()));
                } finally {
                    for (int i = 0; i < threads; i++) {
                        raw[i].close();
                        clients[i].close();
                    }
                }
            }
        }
        results.forEach(r -> System.out.println("BENCH " + r));
        assertThat(results).allSatisfy(r -> {
            assertThat(r.failures()).isZero();
            assertThat(r.calls()).isPositive();
        });
    }
}
