package io.vmhandler.cgroups;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class ProcCgroupTest {
    @Test
    void parsesHybridLines() throws IOException {
        ProcCgroup pc = ProcCgroup.parse(42, "12:name=systemd:/a\n3:cpuset:/kubepods/x\n2:cpu,cpuacct:/b\n0::/c\n");
        assertThat(pc.entries()).hasSize(4);
        assertThat(pc.controller("cpuset").orElseThrow().path()).isEqualTo("/kubepods/x");
        assertThat(pc.controller("cpuacct").orElseThrow().key()).isEqualTo("cpu,cpuacct");
        assertThat(pc.controller("name=systemd").orElseThrow().hierarchyId()).isEqualTo(12);
        assertThat(pc.unified().orElseThrow().path()).isEqualTo("/c");
        assertThat(pc.unified().orElseThrow().key()).isEqualTo("unified");
        assertThat(pc.controller("memory")).isEmpty();
    }

    @Test
    void aColonInsideThePathIsKept() throws IOException {
        assertThat(ProcCgroup.parse(1, "0::/a:b\n").unified().orElseThrow().path()).isEqualTo("/a:b");
    }

    @Test
    void aForgedSecondLineForTheSameHierarchyIsRejected() {
        // a cgroup name with a newline in it would print as an extra line
        assertThatThrownBy(() -> ProcCgroup.parse(7, "0::/x\n0::/kubepods.slice/forged\n"))
                .isInstanceOf(IOException.class).hasMessageContaining("hierarchy 0 appears twice");
    }

    @Test
    void malformedLinesAreRejectedWithTheLine() {
        assertThatThrownBy(() -> ProcCgroup.parse(7, "x:cpuset:/a\n")).hasMessageContaining("malformed line 'x:cpuset:/a'");
        assertThatThrownBy(() -> ProcCgroup.parse(7, "3:/a\n")).hasMessageContaining("malformed");
        assertThatThrownBy(() -> ProcCgroup.parse(7, "0:cpuset:/a\n")).hasMessageContaining("hierarchy 0 lists controllers");
        assertThatThrownBy(() -> ProcCgroup.parse(7, "\n")).hasMessageContaining("is empty");
    }

    @Test
    void readOfAMissingPidSaysSo() {
        assertThatThrownBy(() -> ProcCgroup.read(Path.of("/proc"), Integer.MAX_VALUE))
                .isInstanceOf(NoSuchFileException.class).hasMessage("no process with pid " + Integer.MAX_VALUE);
    }

    @Test
    void readsOwnProcessFromRealProc() throws IOException {
        ProcCgroup pc = ProcCgroup.read(Path.of("/proc"), (int) ProcessHandle.current().pid());
        assertThat(pc.entries()).isNotEmpty();
        assertThat(pc.entries()).allSatisfy(e -> assertThat(e.path()).startsWith("/"));
        assertThat(List.of(pc.entries().get(0).path())).isNotEmpty();
    }
}
