package io.vmhandler.core.metrics;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.prometheus.metrics.exporter.httpserver.MetricsHandler;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Plain-HTTP server for {@code /metrics} (Prometheus text, or OpenMetrics when the scraper asks
 * for it in {@code Accept}; done by the client library's {@link MetricsHandler}), {@code /healthz}
 * (liveness: 200 while this server answers) and {@code /readyz} (200 when the readiness supplier
 * says so, else 503 with the reasons). Scraping is not authenticated, like virt-handler's (docs/anchors.md
 * §5); bind it to the pod IP or loopback.
 *
 * <p>Runs on the JDK's built-in server with two daemon threads, so at most two requests are served
 * at once (virt-handler caps metric requests in flight at 3). {@link #start} binds and returns;
 * {@link #close()} stops at once. The readiness supplier is called on a server thread and
 * must be fast and thread-safe.
 */
public final class MetricsServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(MetricsServer.class);

    private final HttpServer server;
    private final ExecutorService executor;

    private MetricsServer(HttpServer server, ExecutorService executor) {
        this.server = server;
        this.executor = executor;
    }

    /**
     * Binds {@code address} (port 0 picks a free port; see {@link #port()}) and starts serving.
     *
     * @throws IOException when the address cannot be bound (in use, not local)
     */
    public static MetricsServer start(InetSocketAddress address, PrometheusRegistry registry,
            Supplier<Readiness> readiness) throws IOException {
        Objects.requireNonNull(registry, "registry");
        Objects.requireNonNull(readiness, "readiness");
        HttpServer server;
        try {
            server = HttpServer.create(address, 16);
        } catch (IOException e) {
            throw new IOException("cannot bind the metrics server to " + address + ": " + e.getMessage(), e);
        }
        ExecutorService executor = Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "metrics-http");
            t.setDaemon(true);
            return t;
        });
        MetricsHandler metrics = new MetricsHandler(registry);
        server.createContext("/metrics", ex -> {
            if (exact(ex, "/metrics")) {
                metrics.handle(ex);
            }
        });
        server.createContext("/healthz", ex -> {
            if (exact(ex, "/healthz")) {
                reply(ex, 200, "ok\n");
            }
        });
        server.createContext("/readyz", ex -> {
            if (exact(ex, "/readyz")) {
                ready(ex, readiness);
            }
        });
        server.createContext("/", ex -> reply(ex, 404, "not found; try /metrics, /healthz or /readyz\n"));
        server.setExecutor(executor);
        server.start();
        MetricsServer s = new MetricsServer(server, executor);
        log.atInfo().addKeyValue("address", s.address()).log("metrics and health endpoints serving");
        return s;
    }

    /** The bound address, with the real port when 0 was asked for. */
    public InetSocketAddress address() {
        return server.getAddress();
    }

    public int port() {
        return server.getAddress().getPort();
    }

    /**
     * Stops at once: a scrape in progress is cut off (on JDK 17 {@code stop(n)} always waits the full
     * n seconds, JDK-8304065, which would slow every shutdown and test for nothing).
     */
    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
        try {
            executor.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static boolean exact(HttpExchange ex, String path) throws IOException {
        if (!ex.getRequestURI().getPath().equals(path)) {
            reply(ex, 404, "not found\n");
            return false;
        }
        String m = ex.getRequestMethod();
        if (!m.equals("GET") && !m.equals("HEAD")) {
            ex.getResponseHeaders().set("Allow", "GET, HEAD");
            reply(ex, 405, "method not allowed\n");
            return false;
        }
        return true;
    }

    private static void ready(HttpExchange ex, Supplier<Readiness> readiness) throws IOException {
        Readiness r;
        try {
            r = readiness.get();
        } catch (RuntimeException e) {
            log.atWarn().setCause(e).log("readiness check threw");
            r = Readiness.notReady("readiness check failed: " + e);
        }
        if (r.isReady()) {
            reply(ex, 200, "ready\n");
        } else {
            reply(ex, 503, "not ready:\n" + String.join("\n", r.reasons().stream().map(s -> "- " + s).toList()) + "\n");
        }
    }

    private static void reply(HttpExchange ex, int status, String body) throws IOException {
        try (ex) {
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
            boolean head = ex.getRequestMethod().equals("HEAD");
            ex.sendResponseHeaders(status, head ? -1 : bytes.length);
            if (!head) {
                try (OutputStream out = ex.getResponseBody()) {
                    out.write(bytes);
                }
            }
        }
    }
}
