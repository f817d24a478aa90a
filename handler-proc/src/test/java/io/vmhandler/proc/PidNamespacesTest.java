package io.vmhandler.proc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Pid translation on a synthetic /proc: each process's {@code ns/pid} is a link to one of two files that
 * stand for the host's and a container's pid namespace (same target file: same inode, as nsfs gives one
 * inode per namespace), and its {@code NSpid:} line numbers it in each namespace, outermost first.
 */
class PidNamespacesTest {
    @TempDir
    Path root;

    private PidNamespaces ns;

    /** A process in namespace {@code space} ("host" or "pod") with the NSpid line {@code nspid}. */
    private void process(int pid, String space, String nspid) throws IOException {
        Path dir = Files.createDirectories(root.resolve(pid + "/ns"));
        Files.createSymbolicLink(dir.resolve("pid"), root.resolve("nsfs-" + space));
        Files.writeString(root.resolve(pid + "/status"), "Name:\tx\nNSpid:\t" + nspid + "\n");
    }

    private void thread(int pid, int tid, String nspid) throws IOException {
        Path dir = Files.createDirectories(root.resolve(pid + "/task/" + tid));
        Files.writeString(dir.resolve("status"), "Name:\tx\nNSpid:\t" + nspid + "\n");
    }

    @BeforeEach
    void tree() throws IOException {
        Files.writeString(root.resolve("nsfs-host"), "host");
        Files.writeString(root.resolve("nsfs-pod"), "pod");
        process(1, "host", "1");
        process(3, "host", "3");
        process(50, "host", "50");
        // the pod: its launcher is 1 inside, virtqemud 3 inside; a host pid 7 exists too but the pod's 7 is 120
        process(100, "pod", "100\t1");
        process(110, "pod", "110\t3");
        process(120, "pod", "120\t7");
        process(7, "host", "7");
        ns = new PidNamespaces(root);
    }

    @Test
    void aPodCallerNamesItsProcessesByItsOwnNumbers() throws Exception {
        assertThat(ns.toHostPid(100, 1)).contains(100);
        assertThat(ns.toHostPid(100, 3)).contains(110);
        assertThat(ns.toHostPid(110, 7)).contains(120);
    }

    @Test
    void aPodCallerCannotReachHostProcessesOrNumbersItDoesNotHave() throws Exception {
        assertThat(ns.toHostPid(100, 50)).isEmpty();
        // pod pid 110 exists as a host number, but inside the pod it is 3, so the pod has no process 110
        assertThat(ns.toHostPid(100, 110)).isEmpty();
        assertThat(ns.toHostPid(100, 4242)).isEmpty();
    }

    @Test
    void aHostCallerNamesHostProcessesByTheirHostNumbers() throws Exception {
        assertThat(ns.toHostPid(50, 3)).contains(3);
        assertThat(ns.toHostPid(50, 7)).contains(7);
        // the pod's processes are numbered 100.. on the host, but they are not in the host caller's namespace
        assertThat(ns.toHostPid(50, 1)).contains(1);
        assertThat(ns.toHostPid(50, 100)).isEmpty();
    }

    @Test
    void aProcessWhoseStatusCannotBeReadMatchesNothing() throws Exception {
        Files.delete(root.resolve("110/status"));
        assertThat(ns.toHostPid(100, 3)).isEmpty();
    }

    @Test
    void aCallerThatIsGoneOrABadPidIsRefused() {
        assertThatThrownBy(() -> ns.toHostPid(999, 1)).isInstanceOf(ProcessGoneException.class)
                .hasMessage("no process with pid 999");
        assertThatThrownBy(() -> ns.toHostPid(100, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("pid must be > 0, got 0");
        assertThatThrownBy(() -> ns.toHostPid(100, -3)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void threadsAreReportedInTheCallersNumberingOrMinusOneWhenGone() throws Exception {
        thread(110, 111, "111\t4");
        assertThat(ns.toNsTid(110, 111)).isEqualTo(4);
        assertThat(ns.toNsTid(110, 112)).isEqualTo(-1);
        assertThat(ns.toNsTid(110, 0)).isEqualTo(-1);
    }
}
