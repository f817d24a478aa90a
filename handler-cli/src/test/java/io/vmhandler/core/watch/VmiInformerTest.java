package io.vmhandler.core.watch;

import io.vmhandler.cli.demo.EmbeddedApiServer;
import static io.vmhandler.core.watch.Vmis.create;
import static io.vmhandler.core.watch.Vmis.resource;
import static io.vmhandler.core.watch.Vmis.vmi;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.vmhandler.core.model.VmiDocument;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The informer against fabric8's mock API server in CRUD mode (a stand-in for a real API server,
 * which cannot run here; the K3s test covers the manifests where Docker exists).
 */
@EnableKubernetesMockClient(crud = true, https = false)
class VmiInformerTest {
    static final Duration WAIT = Duration.ofSeconds(10);

    KubernetesMockServer server;
    KubernetesClient client;

    final List<String> keys = new CopyOnWriteArrayList<>();
    VmiInformer informer;

    @BeforeEach
    void crdAndInformer() throws Exception {
        client.apiextensions().v1().customResourceDefinitions().resource(VmiResources.crd(true)).create();
        create(client, vmi("ns-a", "pre-existing", "node1"));
        create(client, vmi("ns-b", "elsewhere", "node2"));
        informer = new VmiInformer(client, "node1", keys::add, Duration.ZERO);
        informer.start().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    /**
     * Server first: a watch closed by the client can stall mock 8.0.0's event loop for up to a
     * minute (see EmbeddedApiServer), a close by the server cannot.
     */
    @AfterEach
    void stop() {
        server.destroy();
        informer.stop();
    }

    @Test
    void firstListDeliversOnlyThisNodesVmisAcrossNamespaces() {
        assertThat(informer.hasSynced()).isTrue();
        await().atMost(WAIT).until(() -> keys.contains("ns-a/pre-existing"));
        assertThat(informer.keys()).containsExactly("ns-a/pre-existing");
        assertThat(informer.get("ns-b/elsewhere")).isEmpty();
        assertThat(keys).doesNotContain("ns-b/elsewhere");
    }

    @Test
    void addDeliversTheKeyAndGetReturnsTheWholeDocument() {
        GenericKubernetesResource created = create(client, vmi("ns-c", "vm1", "node1"));
        await().atMost(WAIT).until(() -> keys.contains("ns-c/vm1"));

        VmiDocument d = informer.get("ns-c/vm1").orElseThrow();
        assertThat(d.key()).isEqualTo("ns-c/vm1");
        assertThat(d.string("apiVersion", null)).isEqualTo("kubevirt.io/v1");
        assertThat(d.string("kind", null)).isEqualTo("VirtualMachineInstance");
        assertThat(d.uid()).isEqualTo(created.getMetadata().getUid()).isNotBlank();
        assertThat(d.string("metadata.resourceVersion", null)).isEqualTo(created.getMetadata().getResourceVersion());
        assertThat(d.integer("metadata.generation", -1, 0, Long.MAX_VALUE)).isEqualTo(1);
        assertThat(d.map("metadata.labels")).containsEntry(VmiResources.NODE_LABEL, "node1");
        assertThat(d.map("metadata.annotations")).containsEntry("example.org/owner", "tests");
        assertThat(d.integer("spec.domain.cpu.cores", 1, 1, 512)).isEqualTo(4);
        assertThat(d.bool("spec.domain.devices.networkInterfaceMultiqueue", false)).isTrue();
        assertThat(d.map("status.activePods")).containsValue("node1");
        assertThat(informer.list()).extracting(VmiDocument::key).containsExactlyInAnyOrder("ns-a/pre-existing", "ns-c/vm1");
    }

    @Test
    void documentsAreCopiesThatCannotChangeTheCache() {
        VmiDocument d = informer.get("ns-a/pre-existing").orElseThrow();
        @SuppressWarnings("unchecked")
        Map<String, Object> cpu = (Map<String, Object>) d.get("spec.domain.cpu");
        cpu.put("cores", 64);
        assertThat(informer.get("ns-a/pre-existing").orElseThrow().integer("spec.domain.cpu.cores", 1, 1, 512)).isEqualTo(4);
    }

    @Test
    void updateDeliversTheKeyAgainWithTheNewSpec() {
        keys.clear();
        resource(client, "ns-a", "pre-existing").edit(r -> {
            spec(r).put("hostDevices", List.of(Map.of("name", "gpu1", "deviceName", "nvidia.com/GA102")));
            return r;
        });
        await().atMost(WAIT).until(() -> keys.contains("ns-a/pre-existing"));
        assertThat(informer.get("ns-a/pre-existing").orElseThrow().list("spec.hostDevices")).hasSize(1);
    }

    @Test
    void labelMovedToAnotherNodeIsADelete() {
        keys.clear();
        resource(client, "ns-a", "pre-existing").edit(r -> {
            r.getMetadata().getLabels().put(VmiResources.NODE_LABEL, "node2");
            return r;
        });
        await().atMost(WAIT).until(() -> keys.contains("ns-a/pre-existing"));
        await().atMost(WAIT).until(() -> informer.get("ns-a/pre-existing").isEmpty());
        assertThat(informer.keys()).isEmpty();
    }

    @Test
    void deleteDeliversTheKeyAndTheStoreForgetsIt() {
        keys.clear();
        resource(client, "ns-a", "pre-existing").delete();
        await().atMost(WAIT).until(() -> keys.contains("ns-a/pre-existing"));
        assertThat(informer.get("ns-a/pre-existing")).isEmpty();
    }

    @Test
    void stopCompletesStoppedNormally() throws Exception {
        server.destroy();
        informer.stop();
        informer.stopped().toCompletableFuture().get(5, TimeUnit.SECONDS);
        assertThat(informer.stopped().toCompletableFuture()).isCompleted().isNotCompletedExceptionally();
    }

    @Test
    void badNodeNamesAreRefusedUpFront() {
        assertThatThrownBy(() -> new VmiInformer(client, "", keys::add, Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("--node");
        assertThatThrownBy(() -> new VmiInformer(client, "node1,node2", keys::add, Duration.ZERO))
                .hasMessageContaining("'node1,node2'");
        assertThatThrownBy(() -> new VmiInformer(client, "n".repeat(64), keys::add, Duration.ZERO))
                .hasMessageContaining("1..63");
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> spec(GenericKubernetesResource r) {
        return (Map<String, Object>) r.getAdditionalProperties().get("spec");
    }
}
