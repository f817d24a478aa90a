package io.vmhandler.proc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vmhandler.nativeio.SyscallException;
import java.io.IOException;
import jnr.constants.platform.Errno;
import org.junit.jupiter.api.Test;

/**
 * The edges of the /proc parsers the caller's identity rests on (start time, NSpid, cgroup lines), each limit at
 * exactly its value and one past it. Layouts as proc(5) and cgroups(7) give them.
 */
class ProcParsingEdgesTest {
    /** A stat line with {@code after} fields after comm, the last one {@code last}; 20 reach field 22 (starttime). */
    private static String stat(String pid, int after, String last) {
        StringBuilder s = new StringBuilder(pid + " (x) S 1");
        for (int i = 3; i < after; i++) {
            s.append(" 0");
        }
        return s.append(' ').append(last).append('\n').toString();
    }

    @Test
    void statNeedsTwentyFieldsAfterCommAndTheTwentiethIsTheStartTime() throws IOException {
        assertThat(ProcStat.parse(stat("42", 20, "777"), "s").startTime()).isEqualTo(777);
        assertThatThrownBy(() -> ProcStat.parse(stat("42", 19, "777"), "/proc/42/stat")).isInstanceOf(IOException.class)
                .hasMessageStartingWith("/proc/42/stat: 19 fields after comm, field 22 (starttime) needs 20");
    }

    @Test
    void statWithoutAPidBeforeCommOrWithCommUnclosedIsRefused() {
        assertThatThrownBy(() -> ProcStat.parse(" (x) S 1", "s")).hasMessageStartingWith("s: no '(comm)' field");
        assertThatThrownBy(() -> ProcStat.parse("42 (x S 1", "s")).hasMessageStartingWith("s: no '(comm)' field");
        assertThatThrownBy(() -> ProcStat.parse("4) (x S 1", "s")).hasMessageStartingWith("s: no '(comm)' field");
    }

    @Test
    void statStateIsOneLetter() {
        assertThatThrownBy(() -> ProcStat.parse(stat("42", 20, "1").replace(" S 1", " SR 1"), "s"))
                .hasMessage("s: field 3 (state) is 'SR', not one letter");
    }

    @Test
    void statNumbersAreNonNegativeAndAPidFitsAnInt() throws IOException {
        assertThat(ProcStat.parse(stat("2147483647", 20, "0"), "s").pid()).isEqualTo(Integer.MAX_VALUE);
        assertThat(ProcStat.parse(stat("1", 20, "0"), "s").startTime()).isZero();
        assertThatThrownBy(() -> ProcStat.parse(stat("2147483648", 20, "0"), "s"))
                .hasMessage("s: field 1 is '2147483648', larger than a pid");
        assertThatThrownBy(() -> ProcStat.parse(stat("1", 20, "-1"), "s")).hasMessage("s: field 22 is '-1', not a number");
    }

    @Test
    void nspidEntriesFitAnIntAndTheLineIsNotEmpty() throws IOException {
        assertThat(ProcStatus.parse("NSpid:\t2147483647\t1\n", "st").nspid()).containsExactly(Integer.MAX_VALUE, 1);
        assertThatThrownBy(() -> ProcStatus.parse("NSpid:\t2147483648\n", "st").nspid())
                .hasMessage("st: NSpid holds 2147483648, larger than a pid");
        assertThatThrownBy(() -> ProcStatus.parse("NSpid:\t\n", "st").nspid()).hasMessage("st: NSpid is empty");
    }

    @Test
    void groupsMayBeEmptyAndALineWithoutAKeyIsIgnored() throws IOException {
        assertThat(ProcStatus.parse("Groups:\t4 27 107\n", "st").groups()).containsExactly(4L, 27L, 107L);
        assertThat(ProcStatus.parse("Groups:\t\n", "st").groups()).isEmpty();
        assertThat(ProcStatus.parse(":\tx\nName:\tqemu\n", "st").fields()).containsOnlyKeys("Name");
    }

    @Test
    void cgroupIdsAreOneToSixDigitsAndBlankLinesAreSkipped() throws IOException {
        assertThat(CgroupLine.parse("12:cpuset:/a\n\n123456:pids:/b\n", "c")).extracting(CgroupLine::hierarchyId)
                .containsExactly(12, 123456);
        for (String bad : new String[] {"1234567:pids:/b", ":pids:/b", "x1:pids:/b", "1:pids"}) {
            assertThatThrownBy(() -> CgroupLine.parse(bad + "\n", "c")).as(bad).hasMessage("c: malformed line '" + bad + "'");
        }
    }

    @Test
    void onlyTheV2HierarchyZeroMustHaveNoControllers() throws IOException {
        assertThat(CgroupLine.parse("0::/a\n3::/b\n", "c")).extracting(CgroupLine::controllers)
                .containsExactly(java.util.List.of(), java.util.List.of());
        assertThatThrownBy(() -> CgroupLine.parse("0:cpu:/a\n", "c")).hasMessage("c: hierarchy 0 lists controllers 'cpu'");
    }

    @Test
    void onlyEsrchMeansTheProcessIsGone() {
        SyscallException esrch = new SyscallException("pidfd_open", Errno.ESRCH.intValue(), "pid 42");
        assertThat(ProcessGoneException.ifGone(esrch, 42)).isInstanceOf(ProcessGoneException.class)
                .hasMessage("no process with pid 42");
        SyscallException eperm = new SyscallException("prlimit", Errno.EPERM.intValue(), "pid 42");
        assertThat(ProcessGoneException.ifGone(eperm, 42)).isSameAs(eperm);
    }
}
