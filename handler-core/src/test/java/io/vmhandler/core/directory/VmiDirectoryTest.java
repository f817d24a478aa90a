package io.vmhandler.core.directory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vmhandler.core.model.VmiDocument;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VmiDirectoryTest {
    static String yaml(String name, String node, String pods) {
        return """
                apiVersion: kubevirt.io/v1
                kind: VirtualMachineInstance
                metadata:
                  name: %s
                  namespace: default
                  labels: {kubevirt.io/nodeName: %s}
                spec: {domain: {devices: {}}}
                status: {activePods: %s}
                """.formatted(name, node, pods);
    }

    @Test
    void indexesActivePodsOnThisNodeOnly() {
        VmiDirectory d = new VmiDirectory("node1");
        d.put(VmiDocument.parse(yaml("a", "node1", "{p1: node1, p2: node2}")));
        assertThat(d.byPodUid("p1")).map(VmiDocument::key).contains("default/a");
        assertThat(d.byPodUid("p2")).isEmpty(); // listed, but on another node
        assertThat(d.byPodUid("p3")).isEmpty();
    }

    @Test
    void aVmiThatMovesAwayStopsAuthorizingItsPodsAtOnce() {
        VmiDirectory d = new VmiDirectory("node1");
        List<String> events = new ArrayList<>();
        d.addListener(events::add);
        d.put(VmiDocument.parse(yaml("a", "node1", "{p1: node1}")));
        d.put(VmiDocument.parse(yaml("a", "node2", "{p1: node1}")));
        assertThat(d.byPodUid("p1")).isEmpty();
        assertThat(d.get("default/a")).isEmpty();
        assertThat(events).containsExactly("default/a", "default/a");
    }

    @Test
    void anUpdateReplacesThePodIndex() {
        VmiDirectory d = new VmiDirectory("node1");
        d.put(VmiDocument.parse(yaml("a", "node1", "{p1: node1}")));
        d.put(VmiDocument.parse(yaml("a", "node1", "{p9: node1}")));
        assertThat(d.byPodUid("p1")).isEmpty();
        assertThat(d.byPodUid("p9")).isPresent();
        d.remove("default/a");
        assertThat(d.byPodUid("p9")).isEmpty();
        assertThat(d.size()).isZero();
    }

    @Test
    void aPodClaimedByTwoVmisStaysWithTheFirst() {
        VmiDirectory d = new VmiDirectory("node1");
        d.put(VmiDocument.parse(yaml("a", "node1", "{p1: node1}")));
        d.put(VmiDocument.parse(yaml("b", "node1", "{p1: node1}")));
        assertThat(d.byPodUid("p1")).map(VmiDocument::name).contains("a");
    }

    @Test
    void updatingOrRemovingTheSecondClaimantLeavesThePodWithTheFirst() {
        VmiDirectory d = new VmiDirectory("node1");
        d.put(VmiDocument.parse(yaml("a", "node1", "{p1: node1}")));
        d.put(VmiDocument.parse(yaml("b", "node1", "{p1: node1, p2: node1}")));
        d.put(VmiDocument.parse(yaml("b", "node1", "{p2: node1}")));
        assertThat(d.byPodUid("p1")).map(VmiDocument::name).contains("a");
        d.remove("default/b");
        assertThat(d.byPodUid("p1")).map(VmiDocument::name).contains("a");
        assertThat(d.byPodUid("p2")).isEmpty();
        d.remove("default/a");
        assertThat(d.byPodUid("p1")).isEmpty();
    }

    @Test
    void aDocumentWhoseActivePodsIsNotAMappingIsReplacedAndItsKeyHoldsNoPod() {
        VmiDirectory d = new VmiDirectory("node1");
        d.put(VmiDocument.parse(yaml("a", "node1", "{p1: node1}")));
        VmiDocument bad = VmiDocument.parse(yaml("a", "node1", "[p1]"));
        assertThatThrownBy(() -> d.put(bad))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("status.activePods");
        assertThat(d.byPodUid("p1")).isEmpty();
        d.put(VmiDocument.parse(yaml("a", "node1", "{p2: node1}")));
        assertThat(d.byPodUid("p2")).map(VmiDocument::name).contains("a");
        d.remove("default/a");
        assertThat(d.byPodUid("p2")).isEmpty();
    }

    @Test
    void fileSourceFollowsAddsChangesRemovesAndSkipsBadFiles(@TempDir Path dir) throws Exception {
        VmiDirectory d = new VmiDirectory("node1");
        VmiFileSource src = new VmiFileSource(dir, d);
        Files.writeString(dir.resolve("a.yaml"), yaml("a", "node1", "{p1: node1}"));
        Files.writeString(dir.resolve("broken.yaml"), "kind: [");
        Files.writeString(dir.resolve("ignored.txt"), yaml("x", "node1", "{px: node1}"));
        src.scan();
        assertThat(d.byPodUid("p1")).isPresent();
        assertThat(d.size()).isEqualTo(1);

        Files.writeString(dir.resolve("a.yaml"), yaml("a", "node1", "{p2: node1}") + "\n# changed\n");
        Files.setLastModifiedTime(dir.resolve("a.yaml"), java.nio.file.attribute.FileTime.fromMillis(
                System.currentTimeMillis() + 5000));
        src.scan();
        assertThat(d.byPodUid("p2")).isPresent();
        assertThat(d.byPodUid("p1")).isEmpty();

        Files.delete(dir.resolve("a.yaml"));
        src.scan();
        assertThat(d.size()).isZero();
        src.close();
    }
}
