package io.vmhandler.core.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.http.HttpResponse;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The HTTP endpoints over a real loopback socket. */
class MetricsServerTest {
    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final AtomicReference<Readiness> readiness =
            new AtomicReference<>(Readiness.notReady("informer not synced", "launcher socket not listening"));
    private MetricsServer server;

    @BeforeEach
    void start() throws IOException {
        Counter.builder().name("probe_events").help("test").register(registry).inc();
        server = MetricsServer.start(new InetSocketAddress("127.0.0.1", 0), registry, readiness::get);
    }

    @AfterEach
    void stop() {
        server.close();
    }

    @Test
    void portZeroReportsTheRealPort() {
        assertThat(server.port()).isPositive();
        assertThat(server.address().getAddress().getHostAddress()).isEqualTo("127.0.0.1");
    }

    @Test
    void readinessFlipsWithTheSupplierAndNamesTheReasons() throws Exception {
        HttpResponse<String> r = Scrape.get(server.port(), "/readyz");
        assertThat(r.statusCode()).isEqualTo(503);
        assertThat(r.body()).isEqualTo("not ready:\n- informer not synced\n- launcher socket not listening\n");
        readiness.set(Readiness.ready());
        r = Scrape.get(server.port(), "/readyz");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).isEqualTo("ready\n");
        readiness.set(Readiness.notReady("API server unreachable"));
        assertThat(Scrape.get(server.port(), "/readyz").statusCode()).isEqualTo(503);
    }

    @Test
    void aThrowingReadinessCheckIsNotReadyNotAnError() throws Exception {
        server.close();
        server = MetricsServer.start(new InetSocketAddress("127.0.0.1", 0), registry, () -> {
            throw new IllegalStateException("cache closed");
        });
        HttpResponse<String> r = Scrape.get(server.port(), "/readyz");
        assertThat(r.statusCode()).isEqualTo(503);
        assertThat(r.body()).contains("readiness check failed: java.lang.IllegalStateException: cache closed");
    }

    @Test
    void livenessAnswersWhileServingEvenWhenNotReady() throws Exception {
        HttpResponse<String> r = Scrape.get(server.port(), "/healthz");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).isEqualTo("ok\n");
    }

    @Test
    void metricsInPrometheusTextByDefault() throws Exception {
        HttpResponse<String> r = Scrape.get(server.port(), "/metrics");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Type")).hasValueSatisfying(ct -> assertThat(ct).startsWith("text/plain; version=0.0.4"));
        assertThat(r.body()).contains("# TYPE probe_events_total counter\n", "probe_events_total 1.0\n")
                .doesNotContain("# EOF");
    }

    @Test
    void metricsInOpenMetricsWhenAskedFor() throws Exception {
        HttpResponse<String> r = Scrape.get(server.port(), "/metrics", "Accept", "application/openmetrics-text; version=1.0.0; charset=utf-8");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Type")).hasValueSatisfying(ct -> assertThat(ct).startsWith("application/openmetrics-text"));
        assertThat(r.body()).contains("# TYPE probe_events counter\n", "probe_events_total 1.0\n").endsWith("# EOF\n");
    }

    @Test
    void unknownPathsAndMethodsAreRefused() throws Exception {
        assertThat(Scrape.get(server.port(), "/").statusCode()).isEqualTo(404);
        assertThat(Scrape.get(server.port(), "/healthzz").statusCode()).isEqualTo(404);
        assertThat(Scrape.get(server.port(), "/metrics/x").statusCode()).isEqualTo(404);
        var http = java.net.http.HttpClient.newHttpClient();
        var post = java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + server.port() + "/readyz"))
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString("x")).build();
        HttpResponse<String> r = http.send(post, HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(405);
        assertThat(r.headers().firstValue("Allow")).contains("GET, HEAD");
    }

    @Test
    void aPortInUseIsAClearError() {
        InetSocketAddress taken = new InetSocketAddress("127.0.0.1", server.port());
        assertThatThrownBy(() -> MetricsServer.start(taken, registry, Readiness::ready))
                .isInstanceOf(IOException.class).hasMessageContaining("cannot bind the metrics server to /127.0.0.1:" + server.port());
    }

    @Test
    void closeFreesThePort() throws Exception {
        int port = server.port();
        server.close();
        server = MetricsServer.start(new InetSocketAddress("127.0.0.1", port), registry, Readiness::ready);
        assertThat(server.port()).isEqualTo(port);
    }

    @Test
    void nameFilterAndGzipAsTheDocsSay() throws Exception {
        Counter.builder().name("other_events").help("test").register(registry).inc();
        HttpResponse<String> r = Scrape.get(server.port(), "/metrics?name[]=probe_events_total");
        assertThat(r.body()).contains("probe_events_total 1.0").doesNotContain("other_events");
        var http = java.net.http.HttpClient.newHttpClient();
        var req = java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + server.port() + "/metrics"))
                .header("Accept-Encoding", "gzip").build();
        HttpResponse<byte[]> g = http.send(req, HttpResponse.BodyHandlers.ofByteArray());
        assertThat(g.headers().firstValue("Content-Encoding")).contains("gzip");
        try (var in = new java.util.zip.GZIPInputStream(new java.io.ByteArrayInputStream(g.body()))) {
            assertThat(new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8)).contains("other_events_total 1.0");
        }
    }
}
