package io.vmhandler.core.watch;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Clock;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Owns one entry of a VMI's {@code status.conditions}: type {@value #CONDITION_TYPE}. It is set to
 * {@code status: "False"} with a reason and message when a step fails in a way retrying cannot
 * fix, and removed once vmhandler succeeds again, so a healthy VMI carries no vmhandler condition.
 * This mirrors KubeVirt's own {@code Synchronized=False} condition for sync errors
 * (pkg/controller/conditions.go). Other conditions are never touched.
 *
 * <p>Writes go through the status subresource. KubeVirt's real VMI CRD has no status subresource
 * (virt-operator NewVirtualMachineInstanceCrd declares none; virt-handler writes status with a
 * whole-object update), so a 404 from {@code /status} on a VMI that exists switches this writer to
 * whole-object updates, and a whole-object update whose answer lacks the change switches it back.
 * Both carry the resourceVersion just read: a 409 conflict means someone else wrote first, and the
 * writer re-reads and tries again, up to {@value #MAX_ATTEMPTS} times (logged at info).
 *
 * <p>Threading: thread-safe; every call blocks on API round trips (a few, at most
 * {@value #MAX_ATTEMPTS} read/write pairs, each within the client's short retry budget, see
 * {@link KubeClients}). Call it from a worker, never from an informer callback.
 */
public final class VmiStatusWriter {
    public static final String CONDITION_TYPE = "VmhandlerSynchronized";
    static final int MAX_ATTEMPTS = 5;
    private static final Logger log = LoggerFactory.getLogger(VmiStatusWriter.class);

    /** What a call did. */
    public enum Outcome {
        /** The condition was written. */
        WRITTEN,
        /** The VMI already carried exactly this state; nothing was sent. */
        UNCHANGED,
        /** The VMI (this uid) no longer exists. */
        GONE
    }

    private final KubernetesClient client;
    private final Clock clock;
    private volatile boolean wholeObject;

    public VmiStatusWriter(KubernetesClient client, Clock clock) {
        this.client = Objects.requireNonNull(client, "client");
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    /**
     * Sets {@value #CONDITION_TYPE}=False with this reason and message. lastTransitionTime changes
     * only when the condition was absent or True.
     *
     * @throws KubernetesClientException when the API refuses the write, or every attempt met a
     *     conflict (code 409): a transient error, for the caller's normal retry
     */
    public Outcome markFailed(VmiRef vmi, String reason, String message) {
        if (reason == null || !reason.matches("[A-Z][A-Za-z0-9]{0,127}")) {
            throw new IllegalArgumentException("condition reason must be UpperCamelCase, 1..128 characters, got " + reason);
        }
        String text = message == null ? "" : message.length() <= KubeEvents.MAX_MESSAGE ? message
                : message.substring(0, KubeEvents.MAX_MESSAGE - 3) + "...";
        return write(vmi, reason, text);
    }

    /** Removes {@value #CONDITION_TYPE}; UNCHANGED when it was not there. */
    public Outcome clear(VmiRef vmi) {
        return write(vmi, null, null);
    }

    /** True once a 404 from /status showed the VMI CRD has no status subresource. */
    public boolean usesWholeObjectUpdates() {
        return wholeObject;
    }

    private Outcome write(VmiRef vmi, String reason, String message) {
        var api = client.genericKubernetesResources(VmiResources.CONTEXT).inNamespace(vmi.namespace());
        for (int attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
            GenericKubernetesResource cur = api.withName(vmi.name()).get();
            if (cur == null || (vmi.uid() != null && !vmi.uid().equals(cur.getMetadata().getUid()))) {
                return Outcome.GONE;
            }
            Map<String, Object> status = statusOf(cur);
            Optional<List<Map<String, Object>>> next = apply(conditionsOf(status), reason, message,
                    clock.instant().truncatedTo(ChronoUnit.SECONDS).toString());
            if (next.isEmpty()) {
                return Outcome.UNCHANGED;
            }
            status.put("conditions", next.get());
            cur.getAdditionalProperties().put("status", status);
            boolean whole = wholeObject;
            try {
                GenericKubernetesResource stored = whole ? api.resource(cur).update() : api.resource(cur).updateStatus();
                if (whole && apply(conditionsOf(statusOf(stored)), reason, message, "").isPresent()) {
                    // the API server ignored status in a whole-object update: it has a status subresource
                    wholeObject = false;
                    log.atInfo().addKeyValue("vmi", vmi.key()).log("VMI status is a subresource here; writing through /status");
                    continue;
                }
                log.atInfo().addKeyValue("vmi", vmi.key()).addKeyValue("condition", CONDITION_TYPE)
                        .addKeyValue("reason", reason == null ? "(removed)" : reason).log("VMI status condition written");
                return Outcome.WRITTEN;
            } catch (KubernetesClientException e) {
                if (e.getCode() == 404 && !whole) {
                    wholeObject = true;
                    log.atInfo().addKeyValue("vmi", vmi.key())
                            .log("VMI CRD has no status subresource (as in KubeVirt); writing status with whole-object updates");
                } else if (e.getCode() == 409) {
                    log.atInfo().addKeyValue("vmi", vmi.key()).addKeyValue("attempt", attempt)
                            .log("conflict writing VMI status; re-reading");
                } else {
                    throw e;
                }
            }
        }
        throw new KubernetesClientException("could not write status of VMI " + vmi.key() + " in " + MAX_ATTEMPTS
                + " attempts (conflicts)", 409, null);
    }

    /**
     * The conditions list with ours set (reason != null) or removed (reason == null), or empty
     * when nothing changes. Other entries keep their order and content.
     */
    static Optional<List<Map<String, Object>>> apply(List<Map<String, Object>> current, String reason, String message,
            String now) {
        List<Map<String, Object>> out = new ArrayList<>();
        Map<String, Object> ours = null;
        for (Map<String, Object> c : current) {
            if (CONDITION_TYPE.equals(c.get("type"))) {
                ours = c;
            } else {
                out.add(c);
            }
        }
        if (reason == null) {
            return ours == null ? Optional.empty() : Optional.of(out);
        }
        if (ours != null && "False".equals(ours.get("status")) && reason.equals(ours.get("reason"))
                && message.equals(ours.get("message"))) {
            return Optional.empty();
        }
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("type", CONDITION_TYPE);
        c.put("status", "False");
        c.put("reason", reason);
        c.put("message", message);
        boolean transition = ours == null || !"False".equals(ours.get("status")) || ours.get("lastTransitionTime") == null;
        c.put("lastTransitionTime", transition ? now : ours.get("lastTransitionTime"));
        out.add(c);
        return Optional.of(out);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> statusOf(GenericKubernetesResource r) {
        Object s = r.getAdditionalProperties().get("status");
        return s instanceof Map<?, ?> m ? new LinkedHashMap<>((Map<String, Object>) m) : new LinkedHashMap<>();
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> conditionsOf(Map<String, Object> status) {
        Object c = status.get("conditions");
        List<Map<String, Object>> out = new ArrayList<>();
        if (c instanceof List<?> l) {
            for (Object o : l) {
                if (o instanceof Map<?, ?> m) {
                    out.add((Map<String, Object>) m);
                }
            }
        }
        return out;
    }
}
