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
                .isInstanceOf(NoSuchFileException.class).hasMessageContaining("no process with pid 2147483647");
        assertThatThrownBy(() -> new QemuThreads(Path.of("/proc")).scan(0)).isInstanceOf(IllegalArgumentException.class);
    }
}
