package io.vmhandler.core.watch;

import io.vmhandler.cli.demo.EmbeddedApiServer;
import static io.vmhandler.core.watch.Vmis.create;
import static io.vmhandler.core.watch.Vmis.resource;
import static io.vmhandler.core.watch.Vmis.vmi;
import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * 500 VMIs on one node (the benchmark size) through the embedded API server: the first
 * sync, and the time from an API write to the key reaching the sink. Figures are printed; the
 * bounds are loose (2 shared cores), they catch an informer that stops scaling, not a slow CI.
 */
class VmiInformerScaleTest {
    static final int VMIS = 500;

    @Test
    void fiveHundredVmisSyncAndEventsReachTheSinkQuickly() throws Exception {
        try (EmbeddedApiServer api = EmbeddedApiServer.start(); KubernetesClient daemon = KubeClients.forMaster(api.url())) {
            for (int i = 0; i < VMIS; i++) {
                create(api.client(), vmi("ns-" + (i % 10), "vm-" + i, "node1"));
            }
            Map<String, Long> seen = new ConcurrentHashMap<>();
            VmiInformer informer = new VmiInformer(daemon, "node1", k -> seen.put(k, System.nanoTime()), Duration.ZERO);
            long t0 = System.nanoTime();
            informer.start().toCompletableFuture().get(60, TimeUnit.SECONDS);
            long syncMs = (System.nanoTime() - t0) / 1_000_000;
            assertThat(informer.keys()).hasSize(VMIS);

            List<Long> latencies = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                String key = "ns-" + (i % 10) + "/vm-" + i;
                seen.remove(key);
                long w = System.nanoTime();
                resource(api.client(), "ns-" + (i % 10), "vm-" + i).edit(r -> {
                    r.getMetadata().getAnnotations().put("example.org/touch", String.valueOf(w));
                    return r;
                });
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (!seen.containsKey(key) && System.nanoTime() < deadline) {
                    Thread.sleep(1);
                }
                assertThat(seen).containsKey(key);
                latencies.add((seen.get(key) - w) / 1_000);
            }
            Collections.sort(latencies);
            long p50 = latencies.get(49);
            long p99 = latencies.get(98);
            long docs = 0;
            long c0 = System.nanoTime();
            docs = informer.list().size();
            long listUs = (System.nanoTime() - c0) / 1_000;
            System.out.printf("VmiInformerScaleTest: %d VMIs synced in %d ms; write->sink p50 %d us, p99 %d us "
                    + "(the write's own round trip included); list() of %d documents %d us%n",
                    VMIS, syncMs, p50, p99, docs, listUs);
            assertThat(syncMs).isLessThan(30_000);
            assertThat(p99).isLessThan(2_000_000);
            api.close();
            informer.stop();
        }
    }
}
