package io.vmhandler.core.watch;

import static io.vmhandler.core.watch.Vmis.create;
import static io.vmhandler.core.watch.Vmis.resource;
import static io.vmhandler.core.watch.Vmis.vmi;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The vmhandler condition against fabric8's mock API server in CRUD mode with the VMI CRD
 * registered (so /status behaves as a subresource: docs/build.md §8, point 3). Scripted answers
 * (server.expect) stand in for a concurrent writer (409) and for KubeVirt's VMI CRD, which has no
 * status subresource (404 on /status).
 */
@EnableKubernetesMockClient(crud = true, https = false)
class VmiStatusWriterTest {
    static final String PATH = "/apis/kubevirt.io/v1/namespaces/ns-a/virtualmachineinstances/vm1";

    KubernetesMockServer server;
    KubernetesClient client;
    final Clock clock = Clock.fixed(Instant.parse("2026-11-29T10:00:00Z"), ZoneOffset.UTC);

    VmiRef setUp(boolean statusSubresource) {
        client.apiextensions().v1().customResourceDefinitions().resource(VmiResources.crd(statusSubresource)).create();
        GenericKubernetesResource vmi = vmi("ns-a", "vm1", "node1");
        Map<String, Object> ready = new LinkedHashMap<>(Map.of("type", "Ready", "status", "True"));
        @SuppressWarnings("unchecked")
        Map<String, Object> status = (Map<String, Object>) vmi.getAdditionalProperties().get("status");
        status.put("conditions", new ArrayList<>(List.of(ready)));
        GenericKubernetesResource created = create(client, vmi);
        return new VmiRef("ns-a", "vm1", created.getMetadata().getUid());
    }

    @SuppressWarnings("unchecked")
    List<Map<String, Object>> conditions() {
        Map<String, Object> status = (Map<String, Object>) resource(client, "ns-a", "vm1").get().getAdditionalProperties()
                .get("status");
        return (List<Map<String, Object>>) status.get("conditions");
    }

    Map<String, Object> ours() {
        return conditions().stream().filter(c -> VmiStatusWriter.CONDITION_TYPE.equals(c.get("type"))).findFirst()
                .orElse(null);
    }

    @Test
    void markFailedWritesTheConditionThroughTheStatusSubresource() {
        VmiRef ref = setUp(true);
        VmiStatusWriter w = new VmiStatusWriter(client, clock);

        assertThat(w.markFailed(ref, KubeEvents.INVALID_SPEC, "spec.domain.cpu.cores must be in 1..512, got 0"))
                .isEqualTo(VmiStatusWriter.Outcome.WRITTEN);
        assertThat(ours()).containsEntry("status", "False").containsEntry("reason", "InvalidSpec")
                .containsEntry("message", "spec.domain.cpu.cores must be in 1..512, got 0")
                .containsEntry("lastTransitionTime", "2026-11-29T10:00:00Z");
        assertThat(conditions()).extracting(c -> c.get("type")).containsExactly("Ready", VmiStatusWriter.CONDITION_TYPE);
        assertThat(w.usesWholeObjectUpdates()).isFalse();

        // the subresource is real: a whole-object update by someone else does not drop the condition
        resource(client, "ns-a", "vm1").edit(r -> {
            r.getMetadata().getAnnotations().put("touched", "yes");
            r.getAdditionalProperties().remove("status");
            return r;
        });
        assertThat(ours()).isNotNull();
    }

    @Test
    void sameFailureTwiceWritesOnceAndANewMessageKeepsTheTransitionTime() {
        VmiRef ref = setUp(true);
        VmiStatusWriter w = new VmiStatusWriter(client, clock);
        w.markFailed(ref, KubeEvents.INVALID_SPEC, "one");
        String rv = resource(client, "ns-a", "vm1").get().getMetadata().getResourceVersion();

        assertThat(w.markFailed(ref, KubeEvents.INVALID_SPEC, "one")).isEqualTo(VmiStatusWriter.Outcome.UNCHANGED);
        assertThat(resource(client, "ns-a", "vm1").get().getMetadata().getResourceVersion()).isEqualTo(rv);

        VmiStatusWriter later = new VmiStatusWriter(client, Clock.offset(clock, java.time.Duration.ofMinutes(5)));
        assertThat(later.markFailed(ref, KubeEvents.INVALID_SPEC, "two")).isEqualTo(VmiStatusWriter.Outcome.WRITTEN);
        assertThat(ours()).containsEntry("message", "two").containsEntry("lastTransitionTime", "2026-11-29T10:00:00Z");
    }

    @Test
    void clearRemovesOnlyOurCondition() {
        VmiRef ref = setUp(true);
        VmiStatusWriter w = new VmiStatusWriter(client, clock);
        assertThat(w.clear(ref)).isEqualTo(VmiStatusWriter.Outcome.UNCHANGED);
        w.markFailed(ref, KubeEvents.INVALID_SPEC, "x");

        assertThat(w.clear(ref)).isEqualTo(VmiStatusWriter.Outcome.WRITTEN);
        assertThat(ours()).isNull();
        assertThat(conditions()).extracting(c -> c.get("type")).containsExactly("Ready");
    }

    @Test
    void aDeletedOrRecreatedVmiIsGone() {
        VmiRef ref = setUp(true);
        VmiStatusWriter w = new VmiStatusWriter(client, clock);
        assertThat(w.markFailed(new VmiRef("ns-a", "vm1", "some-older-uid"), KubeEvents.INVALID_SPEC, "x"))
                .isEqualTo(VmiStatusWriter.Outcome.GONE);
        assertThat(ours()).isNull();
        resource(client, "ns-a", "vm1").delete();
        assertThat(w.markFailed(ref, KubeEvents.INVALID_SPEC, "x")).isEqualTo(VmiStatusWriter.Outcome.GONE);
    }

    @Test
    void aConflictIsReReadAndRetried() {
        VmiRef ref = setUp(true);
        server.expect().put().withPath(PATH + "/status").andReturn(409, conflict()).times(2);
        VmiStatusWriter w = new VmiStatusWriter(client, clock);

        assertThat(w.markFailed(ref, KubeEvents.INVALID_SPEC, "x")).isEqualTo(VmiStatusWriter.Outcome.WRITTEN);
        assertThat(ours()).containsEntry("reason", "InvalidSpec");
    }

    @Test
    void conflictsOnEveryAttemptSurfaceAsA409ForTheCallersRetry() {
        VmiRef ref = setUp(true);
        server.expect().put().withPath(PATH + "/status").andReturn(409, conflict()).always();
        VmiStatusWriter w = new VmiStatusWriter(client, clock);

        assertThatThrownBy(() -> w.markFailed(ref, KubeEvents.INVALID_SPEC, "x"))
                .isInstanceOfSatisfying(KubernetesClientException.class, e -> assertThat(e.getCode()).isEqualTo(409))
                .hasMessageContaining("ns-a/vm1").hasMessageContaining("5 attempts");
        assertThat(ours()).isNull();
    }

    @Test
    void kubevirtCrdWithoutStatusSubresourceFallsBackToWholeObjectUpdates() {
        // KubeVirt's VMI CRD declares no status subresource; a real API server answers 404 on /status
        VmiRef ref = setUp(false);
        server.expect().put().withPath(PATH + "/status").andReturn(404, notFound()).always();
        VmiStatusWriter w = new VmiStatusWriter(client, clock);

        assertThat(w.markFailed(ref, KubeEvents.INVALID_SPEC, "x")).isEqualTo(VmiStatusWriter.Outcome.WRITTEN);
        assertThat(w.usesWholeObjectUpdates()).isTrue();
        assertThat(ours()).containsEntry("reason", "InvalidSpec");
        assertThat(conditions()).extracting(c -> c.get("type")).containsExactly("Ready", VmiStatusWriter.CONDITION_TYPE);
        assertThat(w.clear(ref)).isEqualTo(VmiStatusWriter.Outcome.WRITTEN);
        assertThat(ours()).isNull();
    }

    @Test
    void badReasonsAreRefusedBeforeAnyCall() {
        VmiStatusWriter w = new VmiStatusWriter(client, clock);
        assertThatThrownBy(() -> w.markFailed(new VmiRef("ns-a", "vm1", null), "invalid spec", "x"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("UpperCamelCase");
    }

    @Test
    void applyKeepsOtherConditionsInOrder() {
        List<Map<String, Object>> cur = List.of(Map.of("type", "Ready", "status", "True"),
                Map.of("type", VmiStatusWriter.CONDITION_TYPE, "status", "False", "reason", "A", "message", "m",
                        "lastTransitionTime", "t0"),
                Map.of("type", "Paused", "status", "False"));
        assertThat(VmiStatusWriter.apply(cur, "A", "m", "t1")).isEmpty();
        assertThat(VmiStatusWriter.apply(cur, "B", "m", "t1").orElseThrow())
                .extracting(c -> c.get("type") + ":" + c.getOrDefault("lastTransitionTime", ""))
                .containsExactly("Ready:", "Paused:", VmiStatusWriter.CONDITION_TYPE + ":t0");
        assertThat(VmiStatusWriter.apply(cur, null, null, "t1").orElseThrow()).extracting(c -> c.get("type"))
                .containsExactly("Ready", "Paused");
    }

    static String conflict() {
        return "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"reason\":\"Conflict\",\"code\":409,"
                + "\"message\":\"the object has been modified; please apply your changes to the latest version\"}";
    }

    static String notFound() {
        return "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"reason\":\"NotFound\",\"code\":404,"
                + "\"message\":\"the server could not find the requested resource\"}";
    }
}
