package io.vmhandler.core.watch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KubeClientsTest {
    @TempDir
    Path tmp;

    @Test
    void masterAndKubeconfigAreExclusive() {
        assertThatThrownBy(() -> KubeClients.connect(tmp.resolve("k"), "http://127.0.0.1:1"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("--kubeconfig and --master");
    }

    @Test
    void masterMustBeAnHttpUrl() {
        assertThatThrownBy(() -> KubeClients.forMaster("127.0.0.1:6443")).hasMessageContaining("--master")
                .hasMessageContaining("127.0.0.1:6443");
        try (KubernetesClient c = KubeClients.forMaster("http://127.0.0.1:6443")) {
            assertThat(c.getMasterUrl().toString()).startsWith("http://127.0.0.1:6443");
            assertThat(c.getConfiguration().getRequestRetryBackoffLimit()).isEqualTo(KubeClients.REQUEST_RETRIES);
        }
    }

    @Test
    void outsideAPodInClusterSaysWhatToPass() {
        assertThatThrownBy(() -> KubeClients.inCluster(Map.of())).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("KUBERNETES_SERVICE_HOST").hasMessageContaining("--kubeconfig");
    }

    @Test
    void kubeconfigIsReadOrTheErrorNamesTheFlagAndFile() throws Exception {
        Path missing = tmp.resolve("nope");
        assertThatThrownBy(() -> KubeClients.fromKubeconfig(missing)).hasMessageContaining("--kubeconfig " + missing);
        Path kc = tmp.resolve("kubeconfig");
        Files.writeString(kc, """
                apiVersion: v1
                kind: Config
                clusters: [{name: c, cluster: {server: "https://10.0.0.1:6443", insecure-skip-tls-verify: true}}]
                users: [{name: u, user: {token: abc}}]
                contexts: [{name: x, context: {cluster: c, user: u, namespace: tenants}}]
                current-context: x
                """);
        try (KubernetesClient c = KubeClients.fromKubeconfig(kc)) {
            assertThat(c.getMasterUrl().toString()).startsWith("https://10.0.0.1:6443");
            assertThat(c.getNamespace()).isEqualTo("tenants");
        }
    }
}
