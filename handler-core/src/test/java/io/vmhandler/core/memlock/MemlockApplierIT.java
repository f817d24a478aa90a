package io.vmhandler.core.memlock;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vmhandler.core.memlock.MemlockRefusedException.Reason;
import io.vmhandler.nativeio.LinuxConstants;
import io.vmhandler.nativeio.RLimit;
import io.vmhandler.proc.ProcFs;
import io.vmhandler.proc.ProcessRef;
import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.Root;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Real prlimit on live children. This machine caps RLIMIT_MEMLOCK at 8 MiB and gives no
 * CAP_SYS_RESOURCE, so the tests lower within that cap and check that a raise above it is refused
 * with the words the operator needs. Where CAP_SYS_RESOURCE is present the raise must succeed
 * instead, so each test still asserts something that can fail. Every value is read back from
 * /proc/PID/limits, which is independent of the prlimit call under test.
 */
class MemlockApplierIT {
    static final long MIB = 1 << 20;
    static final Pattern MEMLOCK = Pattern.compile("Max locked memory\\s+(\\S+)\\s+(\\S+)\\s+bytes");

    @RegisterExtension
    final HostCleanup host = new HostCleanup();
    private final MemlockApplier applier = new MemlockApplier();
    private boolean capSysResource;
    private RLimit ours;

    @BeforeEach
    void setUp() throws Exception {
        Root.require();
        capSysResource = (ProcFs.host().threadSelfStatus().capEff() >>> 24 & 1) == 1;
        ours = procLimits("self");
    }

    static RLimit procLimits(String pid) throws Exception {
        Matcher m = MEMLOCK.matcher(Files.readString(Path.of("/proc", pid, "limits")));
        assertThat(m.find()).isTrue();
        return new RLimit(parse(m.group(1)), parse(m.group(2)));
    }

    private static long parse(String v) {
        return v.equals("unlimited") ? LinuxConstants.RLIM_INFINITY : Long.parseLong(v);
    }

    private int sleeper() {
        return (int) host.process(new ProcessBuilder("sleep", "60")).pid();
    }

    /** A child running as nobody; waits until setpriv has switched ids and exec'd sleep. */
    private int nobodySleeper() throws Exception {
        Root.requireTool("/usr/bin/setpriv");
        int pid = (int) host.process(new ProcessBuilder("/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                "--clear-groups", "sleep", "60")).pid();
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (System.nanoTime() < deadline) {
            String status = Files.readString(Path.of("/proc", Integer.toString(pid), "status"));
            if (status.contains("\nUid:\t65534\t65534\t65534\t65534") && status.contains("Name:\tsleep")) {
                return pid;
            }
            Thread.sleep(10);
        }
        throw new AssertionError("setpriv child " + pid + " did not become uid 65534 sleep");
    }

    @Test
    void lowersSoftAndHardTo4MiB_readBackFromProcLimits() throws Exception {
        int pid = sleeper();
        MemlockApplier.Applied a = applier.apply(pid, 4 * MIB);
        assertThat(procLimits(Integer.toString(pid))).isEqualTo(RLimit.of(4 * MIB));
        assertThat(a.before()).isEqualTo(ours); // the child inherited our limit
        assertThat(a.after()).isEqualTo(RLimit.of(4 * MIB));
        assertThat(a.changed()).isTrue();
        // and again to a smaller value: soft and hard both follow
        applier.apply(pid, 1 * MIB);
        assertThat(procLimits(Integer.toString(pid))).isEqualTo(RLimit.of(MIB));
    }

    @Test
    void zeroLeavesTheLimitAsItIs() throws Exception {
        int pid = sleeper();
        applier.apply(pid, 2 * MIB);
        MemlockApplier.Applied a = applier.apply(pid, 0);
        assertThat(a.leftAsIs()).isTrue();
        assertThat(a.after()).isEqualTo(RLimit.of(2 * MIB));
        assertThat(procLimits(Integer.toString(pid))).isEqualTo(RLimit.of(2 * MIB));
    }

    @Test
    void softUpToTheExistingHardLimitNeedsNoCapability() throws Exception {
        int pid = sleeper();
        applier.apply(pid, ours.hard() == LinuxConstants.RLIM_INFINITY ? 8 * MIB : ours.hard());
        assertThat(procLimits(Integer.toString(pid)).soft()).isEqualTo(procLimits(Integer.toString(pid)).hard());
    }

    @Test
    void raisingAbove8MiBIsRefusedWithNoCapSysResource_andNothingChanges() throws Exception {
        int pid = sleeper();
        long above = ours.hard() == LinuxConstants.RLIM_INFINITY ? 16 * MIB : ours.hard() * 2;
        if (capSysResource || ours.hard() == LinuxConstants.RLIM_INFINITY) {
            applier.apply(pid, above);
            assertThat(procLimits(Integer.toString(pid))).isEqualTo(RLimit.of(above));
            return;
        }
        assertThatThrownBy(() -> applier.apply(pid, above)).isInstanceOfSatisfying(MemlockRefusedException.class, e -> {
            assertThat(e.reason()).isEqualTo(Reason.NO_CAP_SYS_RESOURCE);
            assertThat(e.getMessage()).contains("raising RLIMIT_MEMLOCK of pid " + pid + " from hard " + ours.hard()
                    + " to " + above + " bytes was refused: no CAP_SYS_RESOURCE in this process")
                    .contains("EPERM");
        });
        assertThat(procLimits(Integer.toString(pid))).isEqualTo(ours);
        assertThatThrownBy(() -> applier.apply(pid, LinuxConstants.RLIM_INFINITY))
                .isInstanceOfSatisfying(MemlockRefusedException.class,
                        e -> assertThat(e.getMessage()).contains("to unlimited was refused: no CAP_SYS_RESOURCE"));
    }

    @Test
    void aProcessOfAnotherUidIsRefusedEvenWhenLowering() throws Exception {
        int pid = nobodySleeper();
        if (capSysResource) {
            applier.apply(pid, 4 * MIB);
            assertThat(procLimits(Integer.toString(pid))).isEqualTo(RLimit.of(4 * MIB));
            return;
        }
        assertThatThrownBy(() -> applier.apply(pid, 4 * MIB)).isInstanceOfSatisfying(MemlockRefusedException.class, e -> {
            assertThat(e.reason()).isEqualTo(Reason.OTHER_UID);
            assertThat(e.getMessage()).contains("was refused: it is a process of another uid (it runs as uid 65534")
                    .contains("and there is no CAP_SYS_RESOURCE in this process");
        });
        assertThat(procLimits(Integer.toString(pid))).isEqualTo(ours);
        // the before-limit came from /proc, since prlimit may not even read it: a raise says both
        org.junit.jupiter.api.Assumptions.assumeTrue(ours.hard() != LinuxConstants.RLIM_INFINITY);
        assertThatThrownBy(() -> applier.apply(pid, ours.hard() * 2)).isInstanceOfSatisfying(MemlockRefusedException.class,
                e -> assertThat(e.reason()).isEqualTo(Reason.OTHER_UID_AND_RAISE));
    }

    @Test
    void aPidWithoutProcessIsAClearError() throws Exception {
        Process p = host.process(new ProcessBuilder("true"));
        p.waitFor();
        int pid = (int) p.pid();
        assertThatThrownBy(() -> applier.apply(pid, MIB)).hasMessage("no process with pid " + pid);
        assertThatThrownBy(() -> applier.apply(-3, MIB)).hasMessageContaining("pid must be a positive process id");
        assertThatThrownBy(() -> applier.apply(1, -7)).hasMessageContaining("the limit must be 0");
    }

    /**
     * SetMemoryLock's sequence (LauncherMemlock: a ProcessRef on the target, then apply) reads the
     * target's /proc/PID/stat twice in all: once when the ref is opened, once after prlimit. Before
     * handler-proc it was five (two stacked guards, each reading before and after).
     */
    @Test
    void oneSetMemoryLockReadsTheTargetsStatTwice() throws Exception {
        int pid = sleeper();
        List<Path> reads = new ArrayList<>();
        ProcFs counting = new ProcFs(Path.of("/proc")) {
            @Override
            protected String readFile(Path file) throws java.io.IOException {
                synchronized (reads) {
                    reads.add(file);
                }
                return super.readFile(file);
            }
        };
        MemlockApplier a = new MemlockApplier(counting);
        try (ProcessRef target = ProcessRef.open(counting, pid)) {
            a.apply(target, 2 * MIB);
        }
        Path stat = Path.of("/proc", Integer.toString(pid), "stat");
        assertThat(reads).filteredOn(stat::equals).hasSize(2);
        assertThat(reads).filteredOn(Path.of("/proc", Integer.toString(pid), "limits")::equals).hasSize(1);
        assertThat(procLimits(Integer.toString(pid))).isEqualTo(RLimit.of(2 * MIB));
    }
}
