package io.vmhandler.cli.demo;

import io.vmhandler.core.watch.KubeClients;
import io.vmhandler.core.watch.VmiResources;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMixedDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.ServerRequest;
import io.fabric8.mockwebserver.ServerResponse;
import io.vmhandler.core.model.VmiDocument;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.HashMap;
import java.util.Map;
import java.util.Queue;
import java.util.logging.Level;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Kubernetes API server for one machine with no cluster: fabric8's mock server in CRUD mode,
 * plain HTTP on 127.0.0.1, with the VMI CRD (status subresource enabled) registered. It is what
 * {@code bin/vmhandler demo} runs the daemon against, and what the watch tests use.
 *
 * <p>What it is not: no authentication, no admission, no field selectors; resourceVersion is one
 * global counter; a status PATCH answers 202 (docs/build.md §8 lists what the mock honours).
 *
 * <p>{@link #restart()} stops the HTTP server, dropping every open watch, and starts a new one on
 * the same port over the same stored objects: an API server restart with etcd intact. As after a
 * real restart, a watch resuming from a resourceVersion older than the restart gets 410 Gone, so
 * clients re-list and see what changed while they were cut off ({@link StaleWatchDispatcher}).
 *
 * <p>Shutdown order: close this server <em>before</em> stopping informers or watches connected
 * to it. A watch closed by the client can stall the mock's event loop for up to a minute
 * (mock 8.0.0 WatchEventsListener queues the socket close on its executor in onClosing, then
 * waits for that executor on the event loop in onClosed; seen in VmiInformerTest). A close by
 * the server does not take that path.
 *
 * <p>Thread-safe; {@link #start()}, {@link #restart()} and {@link #close()} block until the
 * server is up or down.
 */
public final class EmbeddedApiServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EmbeddedApiServer.class);
    /**
     * mockwebserver logs every request through java.util.logging at INFO (docs/build.md §8,
     * point 6). Held strongly: JUL keeps loggers weakly, and a collected logger forgets its level.
     */
    private static final java.util.logging.Logger MOCK_JUL = java.util.logging.Logger.getLogger("io.fabric8.mockwebserver");
    private static final java.util.logging.Logger MOCK_K8S_JUL =
            java.util.logging.Logger.getLogger("io.fabric8.kubernetes.client.server.mock");

    /** A ConfigMap whose every write moves the global resourceVersion at a restart. */
    static final String MARKER = "vmhandler-embedded-apiserver";

    private final Map<ServerRequest, Queue<ServerResponse>> expectations = new HashMap<>();
    private final StaleWatchDispatcher dispatcher = new StaleWatchDispatcher(new KubernetesMixedDispatcher(expectations));
    private KubernetesMockServer server;
    private KubernetesClient client;
    private int port;
    private int restarts;

    private EmbeddedApiServer() {}

    /** Starts on 127.0.0.1 with an ephemeral port and registers the VMI CRD. */
    public static EmbeddedApiServer start() {
        quietMockLogging();
        EmbeddedApiServer s = new EmbeddedApiServer();
        s.listen(0);
        s.client.apiextensions().v1().customResourceDefinitions().resource(VmiResources.crd(true)).create();
        s.client.configMaps().inNamespace("default").resource(new ConfigMapBuilder().withNewMetadata().withName(MARKER)
                .endMetadata().addToData("restarts", "0").build()).create();
        log.atInfo().addKeyValue("url", s.url()).log("embedded Kubernetes API server started");
        return s;
    }

    /** The base URL, e.g. {@code http://127.0.0.1:40123}. */
    public synchronized String url() {
        return "http://127.0.0.1:" + port;
    }

    public synchronized int port() {
        return port;
    }

    /** HTTP requests this server answered since it (last) started listening; a watch counts once, when it opens. */
    public synchronized int requestCount() {
        return server.getRequestCount();
    }

    /**
     * A client for this server, owned by it (closed by {@link #close()}); on the JDK HTTP client
     * like the daemon's.
     */
    public synchronized KubernetesClient client() {
        return client;
    }

    /**
     * Creates a VMI from a YAML/JSON file (e.g. deploy/examples/vmi.yaml) as if virt-controller
     * had scheduled it: label {@code kubevirt.io/nodeName=node}, then, through /status (which
     * drops status sent on create), {@code status.nodeName=node} and
     * {@code status.activePods={podUid: node}}. Blocks; returns the stored object.
     */
    public GenericKubernetesResource createScheduledVmi(Path file, String node, String podUid) throws IOException {
        HasMetadata loaded;
        try (InputStream in = Files.newInputStream(file)) {
            loaded = client().load(in).items().get(0);
        }
        if (!(loaded instanceof GenericKubernetesResource vmi) || !VmiDocument.KIND.equals(vmi.getKind())) {
            throw new IllegalArgumentException(file + ": kind must be " + VmiDocument.KIND + ", got " + loaded.getKind());
        }
        vmi.getMetadata().getLabels().put(VmiResources.NODE_LABEL, node);
        String ns = vmi.getMetadata().getNamespace() == null ? "default" : vmi.getMetadata().getNamespace();
        var api = client().genericKubernetesResources(VmiResources.CONTEXT).inNamespace(ns);
        GenericKubernetesResource created = api.resource(vmi).create();
        Map<String, Object> status = new LinkedHashMap<>();
        Object given = vmi.getAdditionalProperties().get("status");
        if (given instanceof Map<?, ?> m) {
            m.forEach((k, v) -> status.put(String.valueOf(k), v));
        }
        status.put("nodeName", node);
        status.put("activePods", Map.of(podUid, node));
        created.getAdditionalProperties().put("status", status);
        return api.resource(created).updateStatus();
    }

    /** Drops every connection and watch, then serves the same objects again on the same port. */
    public synchronized void restart() {
        int keep = port;
        server.destroy();
        listen(keep);
        expireOlderWatches();
        log.atInfo().addKeyValue("url", url()).log("embedded Kubernetes API server restarted");
    }

    /**
     * Stops serving without forgetting the objects; {@link #resume()} serves them again. Calls
     * through {@link #client()} fail meanwhile.
     */
    public synchronized void pause() {
        server.destroy();
    }

    /** Serves again on the same port after {@link #pause()}. */
    public synchronized void resume() {
        listen(port);
        expireOlderWatches();
    }

    /** Stops the server and its client; never throws, a failed shutdown is logged. */
    @Override
    public synchronized void close() {
        try {
            server.destroy();
        } catch (RuntimeException e) {
            log.atWarn().addKeyValue("url", url()).log("embedded API server did not shut down cleanly: {}", e.toString());
        }
        client.close();
    }

    /**
     * Writes a marker object to move the global resourceVersion past every one handed out before
     * the restart, then expires watches that resume from below it.
     */
    private void expireOlderWatches() {
        restarts++;
        ConfigMap marker = client.configMaps().inNamespace("default").withName(MARKER)
                .edit(cm -> new ConfigMapBuilder(cm).addToData("restarts", String.valueOf(restarts)).build());
        dispatcher.expireWatchesBefore(Long.parseLong(marker.getMetadata().getResourceVersion()));
    }

    /** Sets the mock's java.util.logging loggers to WARNING; idempotent. */
    public static void quietMockLogging() {
        MOCK_JUL.setLevel(Level.WARNING);
        MOCK_K8S_JUL.setLevel(Level.WARNING);
    }

    // Serialization.jsonMapper() is deprecated, but it is the mapper fabric8's own
    // KubernetesMockServerExtension and KubernetesMockServer constructors hand the mock
    @SuppressWarnings("deprecation")
    private void listen(int wanted) {
        if (client != null) {
            client.close();
        }
        // https = false: no BouncyCastle certificate generation; loopback needs no TLS (docs/build.md §8, point 5)
        server = new KubernetesMockServer(new Context(Serialization.jsonMapper()), new MockWebServer(),
                expectations, dispatcher, false);
        server.init(InetAddress.getLoopbackAddress(), wanted);
        port = server.getPort();
        client = KubeClients.forMaster(url());
    }
}
