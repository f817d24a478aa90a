package io.vmhandler.it;

import io.vmhandler.nativeio.CpuSet;
import io.vmhandler.testing.Cmd;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** What a running QEMU holds, read back from the kernel independently of vmhandler (docs/test-host.md B1). */
final class QemuProbes {
    private static final Pattern QUEUES = Pattern.compile("numqueues (\\d+) numdisabled (\\d+)");

    private QemuProbes() {}

    /**
     * Queues attached to a multi_queue tap: numqueues + numdisabled from one {@code ip -d link} snapshot
     * (QEMU flips them during init, and keeps all but pair 0 disabled until a guest driver enables
     * them). iproute2 prints the counts only for multi_queue taps: -1 otherwise, or when there is no tap.
     */
    static int attachedQueues(String netnsName, String tap) {
        int[] q = queueCounts(netnsName, tap);
        return q.length == 0 ? -1 : q[0] + q[1];
    }

    /** {numqueues, numdisabled} from one {@code ip -d link} snapshot; empty when not printed. */
    static int[] queueCounts(String netnsName, String tap) {
        Matcher m = QUEUES.matcher(Cmd.run("ip", "-n", netnsName, "-d", "link", "show", tap).out());
        return m.find() ? new int[] {Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2))} : new int[0];
    }

    /** The tun fds a process holds on {@code tap}: /proc/PID/fdinfo lines "iff:\tTAP". */
    static long tunFds(long pid, String tap) {
        try (var fds = Files.list(Path.of("/proc/" + pid + "/fdinfo"))) {
            return fds.filter(f -> read(f).contains("iff:\t" + tap + "\n")).count();
        } catch (IOException e) {
            return 0;
        }
    }

    /** The cpuset line of /proc/PID/cgroup ("N:cpuset:/path"), or "" when there is none. */
    static String cpusetLine(long pid) throws IOException {
        return Files.readAllLines(Path.of("/proc/" + pid + "/cgroup")).stream().filter(l -> l.contains(":cpuset:"))
                .findFirst().orElse("");
    }

    /** vCPU threads: "CPU n/KVM" or "CPU n/TCG", names QEMU gives only with -name ...,debug-threads=on. */
    static List<String> vcpuTids(long pid) {
        return tids(pid, "CPU \\d+/(KVM|TCG)");
    }

    /** Waits up to 30 s until QEMU {@code pid} has started {@code n} vCPU threads (they start after exec). */
    static void awaitVcpuThreads(long pid, int n) throws InterruptedException {
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
        while (vcpuTids(pid).size() < n && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
    }

    static String vcpuTid(long pid, int vcpu) {
        return tids(pid, "CPU " + vcpu + "/(KVM|TCG)").stream().findFirst()
                .orElseThrow(() -> new AssertionError("pid " + pid + " has no thread for vCPU " + vcpu));
    }

    /** sched_getaffinity of a thread, as {@code taskset -pc} reports it. */
    static BitSet affinity(String tid) {
        String out = Cmd.run("taskset", "-pc", tid).ok().out().strip();
        return CpuSet.parseList(out.substring(out.lastIndexOf(": ") + 2));
    }

    private static List<String> tids(long pid, String commRegex) {
        try (var tasks = Files.list(Path.of("/proc/" + pid + "/task"))) {
            return tasks.filter(t -> read(t.resolve("comm")).strip().matches(commRegex))
                    .map(t -> t.getFileName().toString()).toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    /** A /proc file, or "" once the process or thread is gone. */
    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException | UncheckedIOException e) {
            return "";
        }
    }
}
