package io.vmhandler.core.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.vmhandler.core.watch.VmiInformer;
import io.vmhandler.core.watch.VmiResources;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The daemon's early thread lists the node's VMIs before the reconcile loop exists (fabric8's mock API server in
 * CRUD mode stands in for the API server, which cannot run here).
 */
@EnableKubernetesMockClient(crud = true, https = false)
class EarlyStartTest {
    KubernetesMockServer server;
    KubernetesClient client;
    @TempDir
    Path dir;
    EarlyStart early;

    @BeforeEach
    void vmis() {
        client.apiextensions().v1().customResourceDefinitions().resource(VmiResources.crd(true)).create();
        create("ns-a", "vm1", "node1");
        create("ns-b", "vm2", "node1");
        create("ns-c", "other", "node2");
    }

    @AfterEach
    void stop() {
        server.destroy();
        if (early != null) {
            early.close();
        }
    }

    @Test
    void theListIsInTheStoreBeforeTheLoopIsConnectedAndItsKeysAreHeldUntilThen() throws Exception {
        VmiInformer informer = listedEarly().informer();
        assertThat(informer.hasSynced()).isTrue();
        assertThat(informer.keys()).containsExactlyInAnyOrder("ns-a/vm1", "ns-b/vm2");
        assertThat(early.listMillis()).isGreaterThanOrEqualTo(0);

        List<String> loop = new CopyOnWriteArrayList<>();
        // the informer hands its adds over on its own thread after the store is filled: wait for both to be held
        DeferredKeys held = early.heldKeys();
        await().atMost(Duration.ofSeconds(10)).until(() -> held.heldCount() == 2);
        early.connectKeys(loop::add);
        assertThat(loop).containsExactlyInAnyOrder("ns-a/vm1", "ns-b/vm2");

        create("ns-a", "vm3", "node1");
        await().atMost(Duration.ofSeconds(10)).until(() -> loop.contains("ns-a/vm3"));
        informer.stop();
    }

    @Test
    void anInformerNobodyTookIsStoppedOnClose() throws Exception {
        VmiInformer informer = listedEarly().peekInformer();
        early.close();
        informer.stopped().toCompletableFuture().get(10, TimeUnit.SECONDS);
        assertThat(informer.isWatching()).isFalse();
    }

    /** The early start against the mock server, once its first list is in the store. */
    private EarlyStart listedEarly() throws Exception {
        early = EarlyStart.begin(config(), () -> client, Duration.ZERO);
        early.listed().get(10, TimeUnit.SECONDS);
        return early;
    }

    private DaemonConfig config() {
        return DaemonConfig.standalone("node1", null, dir.resolve("l.sock"), dir.resolve("ckpt")).withMaster(server.url("/"));
    }

    private void create(String namespace, String name, String node) {
        GenericKubernetesResource vmi = new GenericKubernetesResourceBuilder().withApiVersion("kubevirt.io/v1")
                .withKind("VirtualMachineInstance").withNewMetadata().withNamespace(namespace).withName(name)
                .addToLabels(VmiResources.NODE_LABEL, node).endMetadata().build();
        client.genericKubernetesResources(VmiResources.CONTEXT).inNamespace(namespace).resource(vmi).create();
    }
}
