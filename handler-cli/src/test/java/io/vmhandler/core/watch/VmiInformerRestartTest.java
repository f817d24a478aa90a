package io.vmhandler.core.watch;

import io.vmhandler.cli.demo.EmbeddedApiServer;
import static io.vmhandler.core.watch.Vmis.create;
import static io.vmhandler.core.watch.Vmis.resource;
import static io.vmhandler.core.watch.Vmis.vmi;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The informer across API server restarts, on {@link EmbeddedApiServer} (fabric8's CRUD mock, the
 * demo's API server): the HTTP server goes away with every watch, and comes back on the same port
 * over the same objects, as an apiserver restarting in front of an intact etcd. What the mock
 * cannot show: a 410 Gone after compaction (its resourceVersion history is never compacted).
 */
class VmiInformerRestartTest {
    static final Duration WAIT = Duration.ofSeconds(20);
    /**
     * After a server restart the watch comes back on fabric8's reconnect backoff (1 s, doubling): under a loaded
     * machine two failed attempts already take longer than {@link #WAIT}, so resuming gets a minute.
     */
    static final Duration RESUME = Duration.ofSeconds(60);

    EmbeddedApiServer api;
    KubernetesClient daemonClient;
    VmiInformer informer;
    final List<String> keys = new CopyOnWriteArrayList<>();

    @BeforeEach
    void start() throws Exception {
        api = EmbeddedApiServer.start();
        create(api.client(), vmi("ns-a", "vm1", "node1"));
        // the daemon's own client, built the way `run --master URL` builds it
        daemonClient = KubeClients.forMaster(api.url());
        informer = new VmiInformer(daemonClient, "node1", keys::add, Duration.ZERO);
        informer.start().toCompletableFuture().get(10, TimeUnit.SECONDS);
        await().atMost(WAIT).until(() -> keys.contains("ns-a/vm1"));
    }

    @AfterEach
    void stop() {
        api.close();
        informer.stop();
        daemonClient.close();
    }

    @Test
    void restartedServerKeepsObjectsAndTheInformerResumesWatching() {
        api.restart();
        assertThat(resource(api.client(), "ns-a", "vm1").get()).isNotNull();

        keys.clear();
        create(api.client(), vmi("ns-a", "vm2", "node1"));
        await().atMost(RESUME).until(() -> keys.contains("ns-a/vm2"));
        resource(api.client(), "ns-a", "vm1").delete();
        await().atMost(WAIT).until(() -> informer.get("ns-a/vm1").isEmpty());
        assertThat(informer.keys()).containsExactly("ns-a/vm2");
        assertThat(informer.stopped().toCompletableFuture()).isNotDone();
    }

    @Test
    void serverDownForAWhileThenBackTheInformerCatchesUp() throws Exception {
        api.pause();
        await().atMost(WAIT).until(() -> !informer.isWatching());
        // several reconnect attempts fail meanwhile (fabric8 backs off from 1 s)
        Thread.sleep(2500);
        assertThat(informer.stopped().toCompletableFuture()).isNotDone();
        api.resume();

        await().atMost(WAIT).until(informer::isWatching);
        keys.clear();
        create(api.client(), vmi("ns-b", "vm3", "node1"));
        await().atMost(WAIT).until(() -> keys.contains("ns-b/vm3"));
        assertThat(informer.get("ns-b/vm3")).isPresent();
        assertThat(informer.get("ns-a/vm1")).isPresent();
    }

    @Test
    void startingWhileTheApiServerIsDownWaitsAndSyncsOnceItIsBack() throws Exception {
        informer.stop();
        api.pause();
        List<String> late = new CopyOnWriteArrayList<>();
        VmiInformer second = new VmiInformer(daemonClient, "node1", late::add, Duration.ZERO);
        try {
            var started = second.start().toCompletableFuture();
            Thread.sleep(2000);
            assertThat(started).isNotDone();
            assertThat(second.hasSynced()).isFalse();
            api.resume();
            started.get(20, TimeUnit.SECONDS);
            assertThat(second.hasSynced()).isTrue();
            await().atMost(WAIT).until(() -> late.contains("ns-a/vm1"));
        } finally {
            api.close();
            second.stop();
        }
    }

    @Test
    void changesMadeWhileTheInformerWasCutOffArriveAfterReconnect() {
        // objects change between two server lives: the informer must re-list or resume from its
        // resourceVersion and see both the new VMI and the deleted one
        api.pause();
        await().atMost(WAIT).until(() -> !informer.isWatching());
        api.resume();
        create(api.client(), vmi("ns-a", "vm4", "node1"));
        resource(api.client(), "ns-a", "vm1").delete();
        await().atMost(WAIT).until(() -> informer.get("ns-a/vm4").isPresent() && informer.get("ns-a/vm1").isEmpty());
        assertThat(keys).contains("ns-a/vm4", "ns-a/vm1");
    }
}
