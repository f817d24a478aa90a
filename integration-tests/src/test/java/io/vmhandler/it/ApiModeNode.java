package io.vmhandler.it;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.vmhandler.core.app.Daemon;
import io.vmhandler.core.app.DaemonConfig;
import io.vmhandler.cli.demo.EmbeddedApiServer;
import io.vmhandler.core.watch.VmiResources;
import io.vmhandler.testing.Cmd;
import io.vmhandler.testing.HostCleanup;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

/**
 * One node as the API-mode ITs need it: fabric8's mock API server in CRUD mode (the only test double:
 * no real API server can run on this machine), the daemon in this JVM watching it, a launcher socket
 * in a directory the unprivileged callers can reach, and a checkpoint directory. Everything it makes
 * is registered with the given {@link HostCleanup}, the API server closed before the daemon (see
 * {@link EmbeddedApiServer} on shutdown order).
 */
final class ApiModeNode {
    static final String NODE = "node1";

    final Path base;
    final Path socket;
    final Path checkpoints;
    final EmbeddedApiServer api;
    Daemon daemon;

    private ApiModeNode(Path base, EmbeddedApiServer api) throws IOException {
        this.base = base;
        this.api = api;
        this.socket = StandaloneDirs.launcherSocket(base);
        this.checkpoints = base.resolve("ckpt");
    }

    /** Starts the API server only; {@link #startDaemon} follows once the test has set the stage. */
    static ApiModeNode create(HostCleanup cleanup, String prefix) throws IOException {
        Path base = Files.createTempDirectory(prefix);
        cleanup.add(() -> Cmd.run("rm", "-rf", base.toString()));
        EmbeddedApiServer api = EmbeddedApiServer.start();
        ApiModeNode node = new ApiModeNode(base, api);
        cleanup.add(() -> {
            // the mock first: a client-closed watch can block its event loop (see EmbeddedApiServer)
            api.close();
            if (node.daemon != null) {
                node.daemon.close();
            }
        });
        return node;
    }

    /** Starts both, the daemon as {@code vmhandler run --master URL} would. */
    static ApiModeNode start(HostCleanup cleanup, String prefix) throws IOException {
        return create(cleanup, prefix).startDaemon(d -> { });
    }

    /** Starts the daemon; {@code before} may set test seams on it first. */
    ApiModeNode startDaemon(Consumer<Daemon> before) throws IOException {
        Daemon d = new Daemon(DaemonConfig.standalone(NODE, null, socket, checkpoints).withMaster(api.url()));
        before.accept(d);
        daemon = d.start();
        return this;
    }

    /** Creates the VMI as virt-controller would schedule it to this node with {@code pod} active. */
    GenericKubernetesResource schedule(FakePod pod, String name, String yaml) throws IOException {
        Path f = Files.writeString(base.resolve(name + ".yaml"), yaml);
        return api.createScheduledVmi(f, NODE, pod.uid);
    }

    GenericKubernetesResource schedule(FakePod pod, String name) throws IOException {
        return schedule(pod, name, pod.vmi(name, NODE, ""));
    }

    void deleteVmi(String name) {
        api.client().genericKubernetesResources(VmiResources.CONTEXT).inNamespace("default").withName(name).delete();
    }

    /** GET on the metrics/health port: the status code and the body. */
    HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + daemon.metricsPort() + path)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** The /metrics text, as Prometheus scrapes it. */
    String metrics() throws IOException, InterruptedException {
        return get("/metrics").body();
    }

    /**
     * The value of one series in the scraped text, e.g.
     * {@code vmhandler_checkpoint_degraded} or {@code vmhandler_grpc_requests_total{code="OK",method="..."}};
     * 0 when the series is absent (a counter not incremented yet).
     */
    double metric(String series) throws IOException, InterruptedException {
        return metricIn(metrics(), series);
    }

    static double metricIn(String text, String series) {
        return text.lines().filter(l -> l.startsWith(series + " ")).map(l -> Double.parseDouble(l.substring(series.length() + 1)))
                .findFirst().orElse(0.0);
    }
}
