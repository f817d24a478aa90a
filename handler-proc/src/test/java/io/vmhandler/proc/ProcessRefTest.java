package io.vmhandler.proc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vmhandler.nativeio.Fd;
import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.OpenFds;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ProcessRef} on a real child process (pidfd_open of one's own child needs no privilege). Where the
 * test must make /proc say something the kernel would not (a later start time while the process lives),
 * the pidfd is real and the /proc tree is a synthetic copy of the child's entries.
 */
class ProcessRefTest {
    private static final Path PROC = Path.of("/proc");

    @RegisterExtension
    final HostCleanup host = new HostCleanup();

    @TempDir
    Path fake;

    private int sleeper() {
        return (int) host.process(new ProcessBuilder("sleep", "60")).pid();
    }

    /** The child's stat and status under {@code fake}, its stat with start time {@code start}. */
    private ProcFs copyOf(int pid, long start) throws IOException {
        Path dir = Files.createDirectories(fake.resolve(Integer.toString(pid)));
        Files.writeString(dir.resolve("status"), Files.readString(PROC.resolve(pid + "/status")));
        Files.writeString(dir.resolve("stat"), ProcFsTest.stat(pid, "sleep", 'S', 1, start));
        return new ProcFs(fake);
    }

    @Test
    void aLiveChildIsPinnedWithItsOwnStartTimeUidAndComm() throws Exception {
        int pid = sleeper();
        ProcStat stat = ProcFs.host().stat(pid);
        ProcFs proc = new ProcFs(PROC);
        try (ProcessRef ref = ProcessRef.open(proc, pid)) {
            assertThat(ref.pid()).isEqualTo(pid);
            assertThat(ref.info()).isEqualTo(new ProcessInfo(pid, stat.startTime(),
                    ProcFs.host().status(pid).uids().real(), ProcFs.host().status(pid).gids().real(), "sleep"));
            assertThat(ref.proc()).isSameAs(proc);
            assertThat(ref.pidfd().isOpen()).isTrue();
            assertThat(Files.readSymbolicLink(Path.of("/proc/self/fd/" + ref.pidfd().intValue())).toString())
                    .isEqualTo("anon_inode:[pidfd]");
            ref.requireAlive();
            ref.verifyUnchanged();
        }
    }

    @Test
    void anExitedChildIsGoneForEveryCheckAndNamesItsPid() throws Exception {
        int pid = sleeper();
        try (ProcessRef ref = ProcessRef.open(PROC, pid)) {
            ProcessHandle.of(pid).orElseThrow().destroyForcibly();
            ProcessHandle.of(pid).ifPresent(h -> h.onExit().join());
            assertThatThrownBy(ref::requireAlive).isInstanceOf(ProcessGoneException.class)
                    .satisfies(e -> assertThat(((ProcessGoneException) e).pid()).isEqualTo(pid));
            assertThatThrownBy(ref::verifyUnchanged).isInstanceOf(ProcessGoneException.class);
            assertThatThrownBy(ref::openNetns).isInstanceOf(IOException.class);
        }
    }

    @Test
    void aStartTimeThatChangedWhileThePidfdLivesIsAnotherProcess() throws Exception {
        int pid = sleeper();
        ProcFs proc = copyOf(pid, 1000);
        try (ProcessRef ref = ProcessRef.open(proc, pid)) {
            assertThat(ref.info().startTime()).isEqualTo(1000);
            ref.verifyUnchanged();
            Files.writeString(fake.resolve(pid + "/stat"), ProcFsTest.stat(pid, "sleep", 'S', 1, 1001));
            assertThatThrownBy(ref::verifyUnchanged).isInstanceOf(ProcessGoneException.class)
                    .hasMessage("no process with pid " + pid);
            ref.requireAlive(); // the pidfd's own process is still there: only the /proc view moved on
        }
    }

    @Test
    void aNetnsFdIsHandedOutOnlyWhileTheProcessLives() throws Exception {
        int pid = sleeper();
        ProcFs proc = copyOf(pid, 1000);
        Path ns = Files.createDirectories(fake.resolve(pid + "/ns"));
        // the synthetic link stays openable after the child dies: only the pidfd can tell
        Files.createSymbolicLink(ns.resolve("net"), Path.of("/proc/self/ns/net"));
        try (ProcessRef ref = ProcessRef.open(proc, pid)) {
            try (Fd fd = ref.openNetns()) {
                assertThat(Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd.intValue())).toString())
                        .isEqualTo(Files.readSymbolicLink(Path.of("/proc/self/ns/net")).toString());
            }
            ProcessHandle.of(pid).orElseThrow().destroyForcibly();
            ProcessHandle.of(pid).ifPresent(h -> h.onExit().join());
            long before = OpenFds.count(OpenFds.NETNS);
            assertThatThrownBy(ref::openNetns).isInstanceOf(ProcessGoneException.class);
            assertThat(OpenFds.count(OpenFds.NETNS)).as("the netns fd of a dead process is closed").isEqualTo(before);
        }
    }

    @Test
    void closeReleasesThePidfdAndLaterChecksFail() throws Exception {
        int pid = sleeper();
        ProcessRef ref = ProcessRef.open(PROC, pid);
        Fd pidfd = ref.pidfd();
        ref.close();
        assertThat(pidfd.isOpen()).isFalse();
        assertThatThrownBy(ref::requireAlive).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void aPidWithoutAProcessOrWithoutReadableProcIsRefusedAndLeaksNoPidfd() throws Exception {
        assertThatThrownBy(() -> ProcessRef.open(PROC, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("pid must be > 0, got 0");
        assertThatThrownBy(() -> ProcessRef.open(PROC, -1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> ProcessRef.open(PROC, Integer.MAX_VALUE - 3)).isInstanceOf(ProcessGoneException.class)
                .satisfies(e -> assertThat(((ProcessGoneException) e).pid()).isEqualTo(Integer.MAX_VALUE - 3));
        int pid = sleeper();
        long before = OpenFds.count(OpenFds.PIDFD);
        // the pidfd opens (the process exists) but the /proc read fails: the pidfd must not stay open
        assertThatThrownBy(() -> ProcessRef.open(new ProcFs(fake), pid)).isInstanceOf(ProcessGoneException.class);
        assertThat(OpenFds.count(OpenFds.PIDFD)).isEqualTo(before);
    }

    @Test
    void openPidfdReadsProcOnlyOnFirstInfoAndThenAsOpenDoes() throws Exception {
        assertThatThrownBy(() -> ProcessRef.openPidfd(new ProcFs(PROC), 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("pid must be > 0, got 0");
        assertThatThrownBy(() -> ProcessRef.openPidfd(new ProcFs(PROC), -1))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> ProcessRef.openPidfd(new ProcFs(PROC), Integer.MAX_VALUE - 3))
                .isInstanceOf(ProcessGoneException.class);
        int pid = sleeper();
        // an empty /proc: open() would fail at once; openPidfd only fails when info() is first asked for
        try (ProcessRef ref = ProcessRef.openPidfd(new ProcFs(fake), pid)) {
            assertThat(ref).isNotNull();
            assertThat(ref.pid()).isEqualTo(pid);
            ref.requireAlive();
            assertThatThrownBy(ref::info).isInstanceOf(java.io.UncheckedIOException.class)
                    .hasCauseInstanceOf(ProcessGoneException.class);
        }
        long start = ProcFs.host().stat(pid).startTime();
        try (ProcessRef ref = ProcessRef.openPidfd(copyOf(pid, start), pid)) {
            assertThat(ref.info().startTime()).isEqualTo(start);
            assertThat(ref.info()).isSameAs(ref.info());
            ref.verifyUnchanged();
            ProcessHandle.of(pid).orElseThrow().destroyForcibly();
            ProcessHandle.of(pid).ifPresent(h -> h.onExit().join());
            assertThat(ref.info().startTime()).as("read once, kept").isEqualTo(start);
            assertThatThrownBy(ref::verifyUnchanged).isInstanceOf(ProcessGoneException.class);
        }
        int other = sleeper();
        try (ProcessRef ref = ProcessRef.openPidfd(copyOf(other, 1), other)) {
            ProcessHandle.of(other).orElseThrow().destroyForcibly();
            ProcessHandle.of(other).ifPresent(h -> h.onExit().join());
            assertThatThrownBy(ref::info).as("what /proc said is not trusted once the process is gone")
                    .isInstanceOf(java.io.UncheckedIOException.class).hasCauseInstanceOf(ProcessGoneException.class);
        }
    }
}
