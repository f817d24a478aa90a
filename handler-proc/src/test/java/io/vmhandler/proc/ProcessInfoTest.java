package io.vmhandler.proc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class ProcessInfoTest {
    @Test
    void startTimeSurvivesHostileCommNames() {
        // comm "a) b (c" with spaces and parentheses: parsing must start after the last ')'
        String stat = "42 (a) b (c) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        assertThat(ProcessInfo.startTime(stat)).isEqualTo(987654L);
        assertThat(ProcessInfo.comm(stat)).isEqualTo("a) b (c");
    }

    @Test
    void readsThisProcess() throws Exception {
        int pid = (int) ProcessHandle.current().pid();
        ProcessInfo a = ProcessInfo.read(Path.of("/proc"), pid);
        ProcessInfo b = ProcessInfo.read(Path.of("/proc"), pid);
        assertThat(a.startTime()).isPositive().isEqualTo(b.startTime());
        assertThat(ProcessInfo.threads(Path.of("/proc"), pid)).contains(pid);
    }

    @Test
    void aMissingProcessIsGoneAndABadPidIsRejected() {
        assertThatThrownBy(() -> ProcessInfo.read(Path.of("/proc"), Integer.MAX_VALUE - 3))
                .isInstanceOf(ProcessGoneException.class);
        assertThatThrownBy(() -> ProcessInfo.read(Path.of("/proc"), 0)).hasMessage("pid must be > 0, got 0");
    }
}
