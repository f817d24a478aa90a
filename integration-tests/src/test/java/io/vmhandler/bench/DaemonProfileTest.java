package io.vmhandler.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** What bin/bench-launcher-profile reads from strace -c and from /proc. */
class DaemonProfileTest {
    /** strace 6's -c table as written to -o: the errors column is blank when a syscall never failed. */
    private static final String TABLE = """
            % time     seconds  usecs/call     calls    errors syscall
            ------ ----------- ----------- --------- --------- ----------------
             69.73    0.304107         603       504       100 futex
             14.37    0.062677         179       350           epoll_pwait2
              8.39    0.036601        4575         8         7 restart_syscall
              0.00    0.000000           0         9           clock_nanosleep
            ------ ----------- ----------- --------- --------- ----------------
            100.00    0.436096          92       871       107 total
            """;

    @Test
    void readsCallsPerSyscallWithAndWithoutErrorsAndSkipsTheTotal() {
        assertThat(DaemonProfile.parseStraceTable(TABLE)).containsExactlyInAnyOrderEntriesOf(Map.of(
                "futex", 504L, "epoll_pwait2", 350L, "restart_syscall", 8L, "clock_nanosleep", 9L));
    }

    @Test
    void usageOfThisProcessCountsItsOwnCpuAndThreads() throws Exception {
        long pid = ProcessHandle.current().pid();
        ProcessUsage before = ProcessUsage.of(pid);
        java.lang.management.ThreadMXBean cpu = java.lang.management.ManagementFactory.getThreadMXBean();
        long spin = cpu.getCurrentThreadCpuTime() + 200_000_000L;
        long x = 0;
        while (cpu.getCurrentThreadCpuTime() < spin) {
            x += x * 31 + 7; // 200 ms of CPU on this thread (the machine is shared: not 200 ms of wall time)
        }
        Thread sleeper = new Thread(() -> {
            for (int i = 0; i < 5; i++) {
                try {
                    Thread.sleep(1);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "usage-sleeper");
        sleeper.start();
        sleeper.join();
        ProcessUsage.Delta d = ProcessUsage.of(pid).since(before, 10);
        assertThat(x).isNotZero();
        // 200 ms over 10 calls: 20 ms per call of run time, the ticks (10 ms each) at least 10 ms of it
        assertThat(d.runMicrosPerCall()).isGreaterThanOrEqualTo(19_000);
        assertThat(d.cpuMicrosPerCall()).isGreaterThanOrEqualTo(10_000);
        assertThat(d.rssKiB()).isPositive();
        // the sleeper exited before the second snapshot: its wake-ups are gone with it, this thread's remain
        assertThat(d.wakesByThread().keySet()).noneMatch(k -> k.startsWith("usage-sleeper"));
    }
    @Test
    void aThreadThatExitsBetweenTheSnapshotsNeverMakesTheTimeOnCpuNegative() throws Exception {
        long pid = ProcessHandle.current().pid();
        java.lang.management.ThreadMXBean cpu = java.lang.management.ManagementFactory.getThreadMXBean();
        java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
        long[] sink = new long[1];
        Thread exits = new Thread(() -> {
            long until = cpu.getCurrentThreadCpuTime() + 100_000_000L;
            while (cpu.getCurrentThreadCpuTime() < until) {
                sink[0] += sink[0] * 31 + 7; // 100 ms of CPU, all of it before the first snapshot
            }
            try {
                go.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "usage-exits");
        exits.start();
        while (exits.getState() != Thread.State.WAITING && exits.isAlive()) {
            Thread.sleep(1);
        }
        ProcessUsage before = ProcessUsage.of(pid);
        go.countDown();
        exits.join();
        ProcessUsage.Delta d = ProcessUsage.of(pid).since(before, 1);
        // a sum over the task list lost the exited thread's 100 ms and read about -100,000 us here
        assertThat(d.runMicrosPerCall()).isGreaterThanOrEqualTo(0);
    }
}
