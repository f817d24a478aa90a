package io.vmhandler.proc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vmhandler.nativeio.LinuxConstants;
import io.vmhandler.nativeio.RLimit;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every reader of {@link ProcFs} on a synthetic proc tree, laid out as the kernel prints it (proc(5)). */
class ProcFsTest {
    @TempDir
    Path root;

    /** A stat line with utime 30, stime 12, other fields 5..21 zero, and starttime {@code start} in field 22, as fs/proc/array.c prints. */
    static String stat(int pid, String comm, char state, int ppid, long start) {
        StringBuilder s = new StringBuilder(pid + " (" + comm + ") " + state + " " + ppid);
        for (int field = 5; field <= 21; field++) {
            s.append(' ').append(field == 14 ? 30 : field == 15 ? 12 : 0); // utime, stime
        }
        return s.append(' ').append(start).append(" 1000 10 18446744073709551615\n").toString();
    }

    private Path write(String rel, String text) throws IOException {
        Path f = root.resolve(rel);
        Files.createDirectories(f.getParent());
        Files.writeString(f, text);
        return f;
    }

    private ProcFs proc() {
        return new ProcFs(root);
    }

    @Test
    void statParsesFromTheLastParenthesisSoACommWithParenthesesAndSpacesCannotShiftFields() throws Exception {
        // a process may name itself "x) R 1 (y": the fields after it must still be its own
        write("42/stat", stat(42, "x) R 1 (y", 'S', 7, 987654));
        ProcStat s = proc().stat(42);
        assertThat(s).isEqualTo(new ProcStat(42, "x) R 1 (y", 'S', 7, 30, 12, 987654));
        write("43/stat", stat(43, ") (", 'Z', 1, 5));
        assertThat(proc().stat(43).comm()).isEqualTo(") (");
        assertThat(proc().stat(43).state()).isEqualTo('Z');
    }

    @Test
    void aStatWithMissingFieldsNamesTheFileAndTheField() throws Exception {
        write("42/stat", "42 (sleep) S 1 42 42\n");
        assertThatThrownBy(() -> proc().stat(42)).isInstanceOf(IOException.class)
                .hasMessageContaining(root.resolve("42/stat").toString())
                .hasMessageContaining("field 22 (starttime)");
        write("43/stat", "43 sleep S 1\n");
        assertThatThrownBy(() -> proc().stat(43)).hasMessageContaining("no '(comm)' field");
        write("44/stat", stat(44, "a", 'S', 1, 9).replace(" 9 1000", " x9 1000"));
        assertThatThrownBy(() -> proc().stat(44)).hasMessageContaining("field 22 is 'x9', not a number");
    }

    @Test
    void statusGivesIdsNamespacePidsAndCapabilities() throws Exception {
        write("42/status", "Name:\tqemu\nUid:\t107\t108\t109\t110\nGid:\t107\t107\t107\t107\n"
                + "NStgid:\t42\t1\nNSpid:\t42\t1\nCapEff:\t0000000001000000\nCapBnd:\t000001ffffffffff\n");
        ProcStatus st = proc().status(42);
        assertThat(st.uids()).isEqualTo(new ProcStatus.Ids(107, 108, 109, 110));
        assertThat(st.gids().allRealEffectiveSaved(107)).isTrue();
        assertThat(st.uids().allRealEffectiveSaved(107)).isFalse();
        assertThat(st.nspid()).containsExactly(42, 1);
        assertThat(st.nstgid()).containsExactly(42, 1);
        assertThat(st.innermostNspid()).isEqualTo(1);
        assertThat(st.capEff()).isEqualTo(1L << 24);
        assertThat(st.capBnd()).isEqualTo((1L << 41) - 1);
        assertThat(st.field("Name")).contains("qemu");
    }

    @Test
    void aStatusWithoutALineOrWithABadValueSaysWhichFileAndKey() throws Exception {
        write("42/status", "Name:\tx\nUid:\t1\t2\nCapEff:\tzz\n");
        ProcStatus st = proc().status(42);
        assertThatThrownBy(st::nspid).hasMessage(root.resolve("42/status") + " has no 'NSpid:' line");
        assertThatThrownBy(st::uids).hasMessageContaining("Uid has 2 ids, not 4");
        assertThatThrownBy(st::capEff).hasMessageContaining("CapEff is 'zz', not a hex mask");
    }

    @Test
    void limitsReadsTheMemlockRowAndAnyOtherByName() throws Exception {
        String fmt = "%-25s %-20s %-20s %-10s\n";
        write("42/limits", String.format(fmt, "Limit", "Soft Limit", "Hard Limit", "Units")
                + String.format(fmt, "Max cpu time", "unlimited", "unlimited", "seconds")
                + String.format(fmt, "Max locked memory", "8388608", "16777216", "bytes")
                + String.format(fmt, "Max realtime timeout", "unlimited", "unlimited", "us"));
        ProcLimits l = proc().limits(42);
        assertThat(l.memlock()).isEqualTo(new RLimit(8 << 20, 16 << 20));
        assertThat(l.row("Max cpu time")).isEqualTo(RLimit.of(LinuxConstants.RLIM_INFINITY));
        assertThat(l.row("Max realtime timeout").hardUnlimited()).isTrue();
        assertThatThrownBy(() -> l.row("Max open files")).hasMessageContaining("has no 'Max open files' row");
        write("43/limits", String.format(fmt, "Max locked memory", "lots", "8", "bytes"));
        assertThatThrownBy(() -> proc().limits(43)).hasMessageContaining("'Max locked memory' has value 'lots'");
    }

    @Test
    void cgroupLinesAreParsedStrictly() throws Exception {
        write("42/cgroup", "12:name=systemd:/a\n3:cpuset:/kubepods/x\n0::/c:d\n");
        assertThat(proc().cgroup(42)).containsExactly(new CgroupLine(12, List.of("name=systemd"), "/a"),
                new CgroupLine(3, List.of("cpuset"), "/kubepods/x"), new CgroupLine(0, List.of(), "/c:d"));
        write("43/cgroup", "0::/x\n0::/kubepods.slice/forged\n");
        assertThatThrownBy(() -> proc().cgroup(43)).hasMessageContaining("hierarchy 0 appears twice");
        write("44/cgroup", "\n");
        assertThatThrownBy(() -> proc().cgroup(44)).hasMessageContaining("is empty");
    }

    @Test
    void mountinfoGivesMountPointsUnescapedAndFilesystemTypesAfterTheSeparator() throws Exception {
        write("1/mountinfo", "22 1 0:21 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw\n"
                + "30 22 0:26 / /sys/fs/cgroup/cpuset rw shared:11 master:3 - cgroup cgroup rw,cpuset\n"
                + "31 1 8:1 / /mnt/a\\040b rw - ext4 /dev/sda1 rw\n");
        assertThat(proc().mounts(1)).containsExactly(new Mount("/sys/fs/cgroup", "cgroup2"),
                new Mount("/sys/fs/cgroup/cpuset", "cgroup"), new Mount("/mnt/a b", "ext4"));
        write("2/mountinfo", "22 1 0:21 / /x rw shared:9 cgroup2\n");
        assertThatThrownBy(() -> proc().mounts(2)).hasMessageContaining("malformed line '22 1 0:21 / /x rw shared:9 cgroup2'");
    }

    @Test
    void tasksAndTheirNamesAndStats() throws Exception {
        write("42/task/42/comm", "qemu-system-x86\n");
        write("42/task/42/stat", stat(42, "qemu-system-x86", 'S', 1, 100));
        write("42/task/45/comm", "CPU 0/KVM\n");
        write("42/task/45/stat", stat(45, "CPU 0/KVM", 'R', 1, 101));
        write("42/task/45/status", "NSpid:\t45\t3\n");
        Files.createDirectories(root.resolve("42/task/not-a-tid"));
        assertThat(proc().tasks(42)).containsExactly(42, 45);
        assertThat(proc().taskComm(42, 45)).isEqualTo("CPU 0/KVM");
        assertThat(proc().taskStat(42, 45).startTime()).isEqualTo(101);
        assertThat(proc().taskStatus(42, 45).innermostNspid()).isEqualTo(3);
        assertThatThrownBy(() -> proc().taskComm(42, 46)).isInstanceOf(ProcessGoneException.class)
                .hasMessage("no thread 46 in process 42");
    }

    @Test
    void pidsAreTheNumericEntries() throws Exception {
        write("1/stat", stat(1, "init", 'S', 0, 1));
        write("300/stat", stat(300, "x", 'S', 1, 2));
        write("self/status", "Uid:\t0\t0\t0\t0\n");
        Files.createDirectories(root.resolve("sys"));
        Files.createDirectories(root.resolve("99999999999"));
        assertThat(proc().pids()).containsExactly(1, 300);
        assertThat(proc().selfStatus().uids().real()).isZero();
    }

    @Test
    void fdsTheirTargetsAndFdinfo() throws Exception {
        Path fd = Files.createDirectories(root.resolve("42/fd"));
        Files.createSymbolicLink(fd.resolve("0"), Path.of("/dev/null"));
        Files.createSymbolicLink(fd.resolve("12"), Path.of("anon_inode:kvm-vm"));
        write("42/fdinfo/12", "pos:\t0\nflags:\t02000002\nmnt_id:\t15\niff:\ttap0\n");
        assertThat(proc().fds(42)).containsExactly(0, 12);
        assertThat(proc().fdTarget(42, 12)).contains("anon_inode:kvm-vm");
        assertThat(proc().fdTarget(42, 13)).isEmpty(); // closed meanwhile, process still there
        assertThat(proc().fdinfo(42, 12)).containsEntry("iff", "tap0").containsEntry("flags", "02000002");
        assertThat(proc().fdinfo(42, 13)).isEmpty();
    }

    @Test
    void aPidThatVanishedIsProcessGoneForEveryReader() {
        ProcFs p = proc();
        List<ThrowingRead> reads = List.of(() -> p.stat(77), () -> p.status(77), () -> p.limits(77),
                () -> p.cgroup(77), () -> p.mounts(77), () -> p.tasks(77), () -> p.fds(77), () -> p.fdTarget(77, 1), () -> p.fdinfo(77, 1));
        for (ThrowingRead r : reads) {
            assertThatThrownBy(r::read).isInstanceOf(ProcessGoneException.class)
                    .isInstanceOf(NoSuchFileException.class).hasMessage("no process with pid 77")
                    .satisfies(e -> assertThat(((ProcessGoneException) e).pid()).isEqualTo(77));
        }
        assertThatThrownBy(() -> p.stat(0)).isInstanceOf(IllegalArgumentException.class).hasMessage("pid must be > 0, got 0");
    }

    @Test
    void theRealProcReadsThisProcess() throws Exception {
        int self = (int) ProcessHandle.current().pid();
        ProcFs p = ProcFs.host();
        assertThat(p.stat(self).startTime()).isPositive();
        assertThat(p.stat(self).ppid()).isPositive();
        assertThat(p.status(self).nspid()).isNotEmpty();
        assertThat(p.limits(self).memlock()).isNotNull();
        assertThat(p.cgroup(self)).isNotEmpty();
        assertThat(p.mounts(self)).extracting(Mount::mountPoint).contains("/");
        assertThat(p.tasks(self)).contains(self);
        assertThat(p.fds(self)).contains(0, 1, 2);
        assertThat(p.namespaceInode(self, "pid")).isEqualTo(p.namespaceInode(self, "pid")).isPresent();
        assertThat(p.threadSelfStatus().capEff()).isEqualTo(p.threadSelfStatus().capEff());
    }

    @Test
    void everyReadGoesThroughOneOverridablePoint() throws Exception {
        write("42/stat", stat(42, "a", 'S', 1, 5));
        write("42/status", "Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n");
        List<Path> seen = new java.util.ArrayList<>();
        ProcFs counting = new ProcFs(root) {
            @Override
            protected String readFile(Path file) throws IOException {
                seen.add(file);
                return super.readFile(file);
            }
        };
        assertThat(ProcessInfo.read(counting, 42).startTime()).isEqualTo(5);
        assertThat(seen).containsExactly(root.resolve("42/stat"), root.resolve("42/status"));
    }

    interface ThrowingRead {
        Object read() throws Exception;
    }
}
