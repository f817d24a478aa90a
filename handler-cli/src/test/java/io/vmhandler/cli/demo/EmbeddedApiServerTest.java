package io.vmhandler.cli.demo;

import io.vmhandler.core.watch.VmiResources;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ListOptionsBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.vmhandler.core.model.VmiDocument;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
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

    /**
     * A real API server starts a watch from a resourceVersion with the changes after it, and a watch without one
     * with an ADDED event per object; fabric8's mock sends the ADDED events to both (StaleWatchDispatcher).
     */
    @Test
    void aWatchFromAResourceVersionGetsOnlyTheChangesAfterIt(@TempDir Path tmp) throws Exception {
        try (EmbeddedApiServer api = EmbeddedApiServer.start()) {
            for (int i = 0; i < 3; i++) {
                Path f = tmp.resolve("vm-" + i + ".yaml");
                Files.writeString(f, "apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\n"
                        + "metadata: {name: vm-" + i + ", namespace: default}\nspec: {domain: {cpu: {cores: 1}}}\n");
                api.createScheduledVmi(f, "n1", "uid-" + i);
            }
            var vmis = api.client().genericKubernetesResources(VmiResources.CONTEXT).inNamespace("default");
            String listed = vmis.list().getMetadata().getResourceVersion();

            List<String> fromList = new CopyOnWriteArrayList<>();
            List<String> fromNone = new CopyOnWriteArrayList<>();
            try (Watch a = vmis.watch(new ListOptionsBuilder().withResourceVersion(listed).build(), recorder(fromList));
                    Watch b = vmis.watch(recorder(fromNone))) {
                GenericKubernetesResource vm1 = vmis.withName("vm-1").get();
                vm1.getMetadata().setAnnotations(java.util.Map.of("changed", "after the list"));
                vmis.resource(vm1).update();
                Path f = tmp.resolve("vm-3.yaml");
                Files.writeString(f, "apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\n"
                        + "metadata: {name: vm-3, namespace: default}\nspec: {domain: {cpu: {cores: 1}}}\n");
                api.createScheduledVmi(f, "n1", "uid-3");

                org.awaitility.Awaitility.await().atMost(10, TimeUnit.SECONDS).until(() -> fromList.contains("MODIFIED vm-3")
                        && fromNone.contains("MODIFIED vm-3"));
                // the three listed VMIs are not sent again; the change to one and the new one are
                assertThat(fromList).doesNotContain("ADDED vm-0", "ADDED vm-2", "ADDED vm-1")
                        .contains("MODIFIED vm-1", "ADDED vm-3");
                // without a resourceVersion the watch starts with every VMI, as a real one does
                assertThat(fromNone).contains("ADDED vm-0", "ADDED vm-1", "ADDED vm-2", "MODIFIED vm-1", "ADDED vm-3");
            }
        }
    }

    private static Watcher<GenericKubernetesResource> recorder(List<String> events) {
        return new Watcher<>() {
            @Override
            public void eventReceived(Action action, GenericKubernetesResource r) {
                events.add(action + " " + r.getMetadata().getName());
            }

            @Override
            public void onClose(WatcherException cause) {
            }
        };
    }
}
