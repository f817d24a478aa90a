package io.vmhandler.core.pinning;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class QemuThreadsTest {
    @Test
    void startTimeIsField22EvenWithParenthesesAndSpacesInComm() throws IOException {
        String stat = "42 (CPU 0/KVM) x) S 1 42 42 0 -1 4194560 100 0 0 0 5 6 0 0 20 0 3 0 987654 1000 10";
        assertThat(QemuThreads.parseStart(stat, 42, 42)).isEqualTo(987654L);
        assertThatThrownBy(() -> QemuThreads.parseStart("42 (x) S 1", 42, 43)).hasMessageContaining("/proc/42/task/43/stat");
    }

    @Test
    void ownProcessScansWithoutVcpusAndRejectsAForeignTid() throws IOException {
        QemuThreads t = new QemuThreads(Path.of("/proc"));
        int self = (int) ProcessHandle.current().pid();
        QemuThreads.Snapshot s = t.scan(self);
        assertThat(s.vcpus()).isEmpty();
        assertThat(s.emulator()).extracting(QemuThreads.Task::tid).contains(self);
        assertThat(t.same(s)).isTrue();
        // pid 1 is never a thread of this JVM
        assertThatThrownBy(() -> t.fromVcpuTids(self, List.of(1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("vCPU tid list: tid 1 is not a thread of pid " + self);
        assertThatThrownBy(() -> t.fromVcpuTids(self, List.of(self, self))).hasMessageContaining("given twice");
        assertThat(t.fromVcpuTids(self, List.of(self)).vcpus()).hasSize(1);
    }

    @Test
    void aMissingPidIsAClearError() {
        assertThatThrownBy(() -> new QemuThreads(Path.of("/proc")).scan(Integer.MAX_VALUE))
                .isInstanceOf(NoSuchFileException.class).hasMessageContaining("pid 2147483647 does not exist");
        assertThatThrownBy(() -> new QemuThreads(Path.of("/proc")).scan(0)).isInstanceOf(IllegalArgumentException.class);
    }
}
