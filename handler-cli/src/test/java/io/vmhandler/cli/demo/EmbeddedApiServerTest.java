package io.vmhandler.cli.demo;

import io.vmhandler.core.watch.VmiResources;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.vmhandler.core.model.VmiDocument;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The demo's API server: loopback only, the VMI CRD in place, the sample VMI scheduled. */
class EmbeddedApiServerTest {
    static final Path SAMPLE = locateSample();

    static Path locateSample() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.exists(p.resolve("deploy/examples/vmi.yaml"))) {
            p = p.getParent();
        }
        return p.resolve("deploy/examples/vmi.yaml");
    }

    @Test
    void servesOnLoopbackWithTheVmiCrdAndStopsListeningOnClose() throws Exception {
        int port;
        try (EmbeddedApiServer api = EmbeddedApiServer.start()) {
            port = api.port();
            assertThat(api.url()).isEqualTo("http://127.0.0.1:" + port);
            assertThat(api.client().apiextensions().v1().customResourceDefinitions()
                    .withName("virtualmachineinstances.kubevirt.io").get().getSpec().getVersions().get(0)
                    .getSubresources().getStatus()).isNotNull();
        }
        assertThatThrownBy(() -> new Socket("127.0.0.1", port).close()).isInstanceOf(java.io.IOException.class);
    }

    @Test
    void createScheduledVmiPutsTheSampleOnTheNodeWithItsLauncherPod() throws Exception {
        try (EmbeddedApiServer api = EmbeddedApiServer.start()) {
            GenericKubernetesResource stored = api.createScheduledVmi(SAMPLE, "demo-node", "0f0e0d0c-1111-4222-8333-444455556666");
            VmiDocument d = VmiResources.toDocument(stored);
            assertThat(d.key()).isEqualTo("default/demo-vm");
            assertThat(d.map("metadata.labels")).containsEntry(VmiResources.NODE_LABEL, "demo-node");
            assertThat(d.string("status.nodeName", null)).isEqualTo("demo-node");
            assertThat(d.map("status.activePods")).containsOnly(
                    java.util.Map.entry("0f0e0d0c-1111-4222-8333-444455556666", "demo-node"));
            assertThat(d.integer("spec.domain.cpu.cores", 1, 1, 512)).isEqualTo(4);
            // the same name twice is refused like a real API server would
            assertThatThrownBy(() -> api.createScheduledVmi(SAMPLE, "demo-node", "x"))
                    .isInstanceOfSatisfying(KubernetesClientException.class, e -> assertThat(e.getCode()).isEqualTo(409));
        }
    }

    @Test
    void aFileThatIsNotAVmiIsRefused(@TempDir Path tmp) throws Exception {
        Path cm = tmp.resolve("cm.yaml");
        Files.writeString(cm, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n");
        try (EmbeddedApiServer api = EmbeddedApiServer.start()) {
            assertThatThrownBy(() -> api.createScheduledVmi(cm, "n", "u")).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining(cm.toString()).hasMessageContaining("got ConfigMap");
        }
    }
}
