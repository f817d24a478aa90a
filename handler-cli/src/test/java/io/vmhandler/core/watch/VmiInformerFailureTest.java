package io.vmhandler.core.watch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import tools.jackson.core.exc.StreamReadException;

/**
 * What stops the informer for good. The mock without CRUD answers every unscripted request with
 * 404, which is what a cluster without the VMI CRD (KubeVirt not installed) answers.
 */
@EnableKubernetesMockClient(crud = false, https = false)
class VmiInformerFailureTest {
    KubernetesMockServer server;
    KubernetesClient client;

    @Test
    void noVmiCrdStopsTheInformerExceptionallySoTheDaemonCanExitNonZero() throws Exception {
        List<String> keys = new ArrayList<>();
        VmiInformer informer = new VmiInformer(client, "node1", keys::add, Duration.ZERO);
        try {
            assertThatThrownBy(() -> informer.start().toCompletableFuture().get(10, TimeUnit.SECONDS))
                    .isInstanceOf(ExecutionException.class).hasRootCauseInstanceOf(KubernetesClientException.class);
            assertThatThrownBy(() -> informer.stopped().toCompletableFuture().get(10, TimeUnit.SECONDS))
                    .isInstanceOf(ExecutionException.class);
            assertThat(informer.hasSynced()).isFalse();
            assertThat(keys).isEmpty();
        } finally {
            informer.stop();
        }
    }

    @Test
    void retryPolicyRetriesTransientErrorsOnly() {
        assertThat(VmiInformer.retryAfter(true, new KubernetesClientException("boom", 500, null))).isTrue();
        assertThat(VmiInformer.retryAfter(true, new KubernetesClientException("slow down", 429, null))).isTrue();
        assertThat(VmiInformer.retryAfter(false, new KubernetesClientException("io", new IOException("refused")))).isTrue();
        assertThat(VmiInformer.retryAfter(true, new KubernetesClientException("forbidden", 403, null))).isFalse();
        assertThat(VmiInformer.retryAfter(true, new KubernetesClientException("unauthorized", 401, null))).isFalse();
        assertThat(VmiInformer.retryAfter(false, new KubernetesClientException("no crd", 404, null))).isFalse();
        assertThat(VmiInformer.retryAfter(true, new RuntimeException(new StreamReadException("bad json"))))
                .isFalse();
    }
}
