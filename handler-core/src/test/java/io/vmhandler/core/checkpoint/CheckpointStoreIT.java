package io.vmhandler.core.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.vmhandler.core.metrics.DaemonMetrics;
import io.vmhandler.testing.Cmd;
import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.Root;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fault "the checkpoint directory is read-only", made real: a tmpfs this test mounts and
 * remounts read-only (chmod does not stop root, so a mode change would prove nothing).
 */
class CheckpointStoreIT {
    private static final String UID_A = "11111111-2222-3333-4444-555555555555";
    private static final String UID_B = "66666666-7777-8888-9999-000000000000";

    @RegisterExtension
    final HostCleanup host = new HostCleanup();

    @TempDir
    Path tmp;

    @BeforeEach
    void root() {
        Root.require();
    }

    private Path tmpfs() throws IOException {
        Path m = Files.createDirectory(tmp.resolve("mnt-" + HostCleanup.suffix()));
        Cmd.run("mount", "-t", "tmpfs", "-o", "size=4m,mode=0755", "vmh-checkpoint-test", m.toString()).ok();
        host.add(() -> Cmd.run("umount", "-l", m.toString()).ok());
        return m;
    }

    private static void remount(Path m, String mode) {
        Cmd.run("mount", "-o", "remount," + mode, m.toString()).ok();
    }

    private CheckpointStore open(Path dir) throws IOException {
        CheckpointStore s = CheckpointStore.open(dir);
        host.add(() -> {
            try {
                s.close();
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        });
        return s;
    }

    private static double gauge(DaemonMetrics m, String name) {
        return m.registry().scrape().stream().filter(s -> s.getMetadata().getPrometheusName().equals(name))
                .map(s -> ((GaugeSnapshot) s).getDataPoints().get(0).getValue()).findFirst().orElseThrow();
    }

    @Test
    void aReadOnlyDirectoryDegradesToMemoryAndRecoversWhenWritable() throws Exception {
        Path m = tmpfs();
        Path dir = m.resolve("checkpoints");
        CheckpointStore s = open(dir);
        DaemonMetrics metrics = new DaemonMetrics(new io.prometheus.metrics.model.registry.PrometheusRegistry());
        metrics.watchCheckpoint(s::degraded, s::corruptFiles);
        assertThat(s.put(CheckpointRecord.of(UID_A, Map.of("taps", "tap0")))).isTrue();
        assertThat(gauge(metrics, "vmhandler_checkpoint_degraded")).isZero();

        remount(m, "ro");
        assertThat(s.put(CheckpointRecord.of(UID_A, Map.of("taps", "tap0,tap1")))).isFalse();
        assertThat(s.put(CheckpointRecord.of(UID_B, Map.of("taps", "tap0")))).isFalse();
        CheckpointStore.Health h = s.health();
        assertThat(h.degraded()).isTrue();
        assertThat(h.degradedReason()).contains("Read-only file system").contains(dir.toString());
        assertThat(h.pending()).isEqualTo(2);
        assertThat(gauge(metrics, "vmhandler_checkpoint_degraded")).isEqualTo(1.0);
        assertThat(s.get(UID_A).orElseThrow().fields()).as("memory keeps working").containsEntry("taps", "tap0,tap1");
        assertThat(s.remove(UID_A)).isFalse();
        assertThat(s.flush()).as("still read-only").isFalse();
        assertThat(Files.readString(dir.resolve(UID_A + ".json"))).as("disk untouched").contains("\"taps\":\"tap0\"");

        remount(m, "rw");
        assertThat(s.flush()).isTrue();
        assertThat(s.health().degraded()).isFalse();
        assertThat(s.health().pending()).isZero();
        assertThat(gauge(metrics, "vmhandler_checkpoint_degraded")).isZero();
        assertThat(dir.resolve(UID_A + ".json")).doesNotExist();
        try (CheckpointStore again = CheckpointStore.open(dir)) {
            assertThat(again.list()).containsExactly(CheckpointRecord.of(UID_B, Map.of("taps", "tap0")));
        }
    }

    @Test
    void aDirectoryThatCannotBeCreatedStartsDegradedAndOpensLater() throws Exception {
        Path m = tmpfs();
        remount(m, "ro");
        Path dir = m.resolve("checkpoints");
        CheckpointStore s = open(dir);
        assertThat(s.degraded()).isTrue();
        assertThat(s.health().degradedReason()).contains("cannot open " + dir).contains("Read-only file system");
        assertThat(s.put(CheckpointRecord.of(UID_A, Map.of("k", "v")))).isFalse();
        assertThat(s.list()).hasSize(1);

        remount(m, "rw");
        assertThat(s.put(CheckpointRecord.of(UID_B, Map.of("k", "w")))).isTrue();
        assertThat(s.degraded()).isFalse();
        assertThat(dir.resolve(UID_A + ".json")).exists();
        assertThat(dir.resolve(UID_B + ".json")).exists();
    }

    @Test
    void retryingWritesThePendingStateOnceTheDirectoryIsWritableWithoutAnotherChange() throws Exception {
        Path m = tmpfs();
        Path dir = m.resolve("checkpoints");
        CheckpointStore s = open(dir);
        s.retryWhileDegraded(Duration.ofMillis(100));
        remount(m, "ro");
        assertThat(s.put(CheckpointRecord.of(UID_A, Map.of("taps", "tap0")))).isFalse();
        Thread.sleep(400); // several retries against the read-only directory: still degraded, nothing lost
        assertThat(s.health().pending()).isEqualTo(1);
        assertThat(dir.resolve(UID_A + ".json")).doesNotExist();

        remount(m, "rw");
        await().atMost(Duration.ofSeconds(5)).until(() -> !s.degraded());
        assertThat(s.health().pending()).isZero();
        assertThat(Files.readString(dir.resolve(UID_A + ".json"))).contains("\"taps\":\"tap0\"");
    }

    @Test
    void aDirectoryOwnedBySomeoneElseIsRefused() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("cp"));
        Cmd.run("chown", "65534:65534", dir.toString()).ok();
        assertThatThrownBy(() -> CheckpointStore.open(dir)).isInstanceOf(RefusedDirectoryException.class)
                .hasMessageContaining(dir + " is owned by").hasMessageContaining("not by this process (root)");
    }
}
