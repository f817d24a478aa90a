package io.vmhandler.core.watch;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.ExceptionHandler;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.vmhandler.core.model.VmiDocument;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches the kubevirt.io/v1 VirtualMachineInstances of one node, in every namespace, through a
 * fabric8 informer with the label selector {@code kubevirt.io/nodeName=<node>}.
 *
 * <p>The informer's callbacks only hand the key {@code namespace/name} to the sink given at
 * construction (add, update, delete, and the periodic resync alike); a worker then reads the
 * latest object with {@link #get(String)} and reconciles. An absent object means the VMI was
 * deleted or has left this node (its label moved, which the API server reports as a delete).
 *
 * <p>Threading: the sink is called on fabric8's single serial event thread and must not block
 * (fabric8 {@code ResourceEventHandler} Javadoc: no long-running logic). {@link #get},
 * {@link #list}, {@link #hasSynced} and {@link #keys} read the informer's thread-safe store and
 * never block. {@link #start} does not block; {@link #stop} is idempotent.
 *
 * <p>Failures: lost watches and API server restarts are retried by fabric8 with capped
 * exponential backoff, re-listing when needed. Errors retrying cannot fix (401, 403, 404 on the
 * list, a response that does not parse) stop the informer; {@link #stopped()} then completes
 * exceptionally, and the daemon should exit non-zero so the DaemonSet restarts it.
 */
public final class VmiInformer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(VmiInformer.class);

    private final String node;
    private final SharedIndexInformer<GenericKubernetesResource> informer;

    /**
     * Creates the informer; nothing is sent to the API server until {@link #start()}.
     *
     * @param sink receives namespace/name keys; called on the informer thread, must not block
     * @param resync how often every cached VMI is handed to the sink again (0 = never): a safety
     *     net that lets the reconciler repair host drift without an API event
     */
    public VmiInformer(KubernetesClient client, String node, Consumer<String> sink, Duration resync) {
        this.node = requireNodeName(node);
        Objects.requireNonNull(sink, "sink");
        this.informer = client.genericKubernetesResources(VmiResources.CONTEXT).inAnyNamespace()
                .withLabel(VmiResources.NODE_LABEL, node)
                .runnableInformer(resync.toMillis());
        informer.addEventHandler(new KeyOnlyHandler(sink));
        informer.exceptionHandler(VmiInformer::retryAfter);
    }

    /**
     * Starts listing and watching; does not block. The returned stage completes when the first
     * list is in the store ({@link #hasSynced()} is then true), or exceptionally if the first list
     * fails in a way that is not retried (see {@link #retryAfter}). While the API server is
     * unreachable it stays pending and the list is retried (VmiInformerRestartTest).
     */
    public CompletionStage<Void> start() {
        log.atInfo().addKeyValue("node", node).addKeyValue("selector", VmiResources.NODE_LABEL + "=" + node)
                .log("starting the VMI informer");
        return informer.start();
    }

    /** True once the first full list of this node's VMIs is in the store. */
    public boolean hasSynced() {
        return informer.hasSynced();
    }

    /** True while a watch is open; false during a reconnect. */
    public boolean isWatching() {
        return informer.isWatching();
    }

    /** The latest cached VMI for namespace/name, copied out of the cache. */
    public Optional<VmiDocument> get(String key) {
        GenericKubernetesResource r = informer.getStore().getByKey(key);
        return r == null ? Optional.empty() : Optional.of(VmiResources.toDocument(r));
    }

    /** Every cached VMI of this node. */
    public List<VmiDocument> list() {
        List<VmiDocument> out = new ArrayList<>();
        for (GenericKubernetesResource r : informer.getStore().list()) {
            out.add(VmiResources.toDocument(r));
        }
        return out;
    }

    /** The namespace/name keys of every cached VMI (cheap: no conversion). */
    public List<String> keys() {
        return informer.getStore().listKeys();
    }

    /**
     * Completes normally after {@link #stop()}, exceptionally (with the cause) when the informer
     * gave up on its own. Callbacks run on a fabric8 thread.
     */
    public CompletionStage<Void> stopped() {
        return informer.stopped();
    }

    public void stop() {
        informer.stop();
    }

    @Override
    public void close() {
        stop();
    }

    public String node() {
        return node;
    }

    /**
     * Retry everything transient (I/O errors, 5xx, 429, a closed watch); give up on what a retry
     * cannot fix, so the pod restarts with a visible reason instead of silently serving nothing.
     */
    static boolean retryAfter(boolean started, Throwable t) {
        if (ExceptionHandler.isDeserializationException(t)) {
            log.atError().setCause(t).log("VMI informer: a response did not parse; stopping");
            return false;
        }
        int code = httpCode(t);
        if (code == 401 || code == 403 || code == 404) {
            log.atError().addKeyValue("httpCode", code).setCause(t)
                    .log("VMI informer: the API server refused the list/watch (credentials, RBAC or no VMI CRD); stopping");
            return false;
        }
        log.atWarn().addKeyValue("started", started).addKeyValue("httpCode", code)
                .log("VMI informer: list/watch failed, retrying with backoff: {}", t.toString());
        return true;
    }

    static int httpCode(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof KubernetesClientException k && k.getCode() > 0) {
                return k.getCode();
            }
        }
        return -1;
    }

    static String requireNodeName(String node) {
        // Node names are DNS subdomains (RFC 1123, at most 253 characters) and label values are
        // at most 63 (Kubernetes docs, "Object Names and IDs" and "Labels and Selectors").
        if (node == null || node.isEmpty() || node.length() > 63
                || !node.matches("[a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?")) {
            throw new IllegalArgumentException("--node must be a valid label value (1..63 characters of "
                    + "[A-Za-z0-9-_.], alphanumeric at both ends), got " + (node == null ? "nothing" : "'" + node + "'"));
        }
        return node;
    }

    /** Callbacks that only pass the key on (docs/design.md §5, "Informer callbacks only enqueue"). */
    private record KeyOnlyHandler(Consumer<String> sink) implements ResourceEventHandler<GenericKubernetesResource> {
        @Override
        public void onAdd(GenericKubernetesResource r) {
            sink.accept(VmiResources.key(r));
        }

        @Override
        public void onUpdate(GenericKubernetesResource old, GenericKubernetesResource r) {
            sink.accept(VmiResources.key(r));
        }

        @Override
        public void onDelete(GenericKubernetesResource r, boolean finalStateUnknown) {
            sink.accept(VmiResources.key(r));
        }
    }
}
