package io.vmhandler.core.directory;

import io.vmhandler.core.model.VmiDocument;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The VMIs scheduled to this node, indexed by key (namespace/name) and by launcher pod UID
 * ({@code status.activePods}). This is what caller identity resolves against: a pod UID maps to a VMI
 * only while that VMI is on this node and lists the pod as active on this node.
 *
 * <p>Fed by the informer (daemon) or by {@link VmiFileSource} (standalone mode, tests). Thread-safe;
 * lookups never block on updates.
 */
public final class VmiDirectory {
    private static final Logger log = LoggerFactory.getLogger(VmiDirectory.class);
    public static final String NODE_LABEL = "kubevirt.io/nodeName";

    private final String node;
    private final Map<String, VmiDocument> byKey = new ConcurrentHashMap<>();
    private final Map<String, String> keyByPod = new ConcurrentHashMap<>();
    private final List<Consumer<String>> listeners = new CopyOnWriteArrayList<>();

    public VmiDirectory(String node) {
        if (node == null || node.isBlank()) {
            throw new IllegalArgumentException("node name must not be empty");
        }
        this.node = node;
    }

    public String node() {
        return node;
    }

    /** Called with the key after every change (put or remove). */
    public void addListener(Consumer<String> listener) {
        listeners.add(listener);
    }

    /**
     * Adds or replaces a VMI. One that is not labelled for this node is treated as a removal: a VMI
     * that moved away must stop authorizing its old pods at once.
     */
    public synchronized void put(VmiDocument vmi) {
        String key = vmi.key();
        if (vmi.name() == null) {
            throw new IllegalArgumentException("metadata.name is required");
        }
        Object nodeLabel = vmi.map("metadata.labels").get(NODE_LABEL);
        if (!node.equals(nodeLabel)) {
            remove(key);
            return;
        }
        unindexPods(key, byKey.put(key, vmi));
        for (Map.Entry<String, Object> e : vmi.map("status.activePods").entrySet()) {
            // activePods maps pod UID -> node name; a pod the VMI lists on another node is not ours
            if (node.equals(String.valueOf(e.getValue()))) {
                String prev = keyByPod.putIfAbsent(e.getKey(), key);
                if (prev != null && !prev.equals(key)) {
                    log.atWarn().addKeyValue("vmi", key).addKeyValue("pod", e.getKey())
                            .log("pod {} is claimed by both {} and {}; keeping {}", e.getKey(), prev, key, prev);
                }
            }
        }
        fire(key);
    }

    public synchronized void remove(String key) {
        VmiDocument old = byKey.remove(key);
        unindexPods(key, old);
        if (old != null) {
            fire(key);
        }
    }

    /**
     * Drops the pod entries that {@code old}, the document {@code key} held until now, put in the index. Only a
     * put indexes pods, only from the document it stores, so they are among {@code old}'s activePods; removing
     * exactly those costs O(pods) where a scan of the whole index cost O(VMIs on the node) per update (with 500
     * VMIs, most of a reconcile worker's CPU samples in bin/bench-daemon). The removal is conditional: a pod that
     * another VMI claimed first stays with it.
     */
    private void unindexPods(String key, VmiDocument old) {
        if (old == null) {
            return;
        }
        Map<String, Object> pods;
        try {
            pods = old.map("status.activePods");
        } catch (IllegalArgumentException notAMapping) {
            // put stored the document, then failed on its activePods before indexing any: the scan finds none
            keyByPod.values().removeIf(key::equals);
            return;
        }
        for (String podUid : pods.keySet()) {
            keyByPod.remove(podUid, key);
        }
    }

    public Optional<VmiDocument> get(String key) {
        return Optional.ofNullable(byKey.get(key));
    }

    /** The VMI whose status.activePods lists {@code podUid} on this node. */
    public Optional<VmiDocument> byPodUid(String podUid) {
        String key = keyByPod.get(podUid);
        return key == null ? Optional.empty() : Optional.ofNullable(byKey.get(key));
    }

    public Collection<VmiDocument> all() {
        return new ArrayList<>(byKey.values());
    }

    public int size() {
        return byKey.size();
    }

    private void fire(String key) {
        for (Consumer<String> l : listeners) {
            l.accept(key);
        }
    }
}
