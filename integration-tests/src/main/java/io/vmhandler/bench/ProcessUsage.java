package io.vmhandler.bench;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * What a process used, read from /proc before and after a measured stretch of calls (proc(5)):
 * <ul>
 *   <li>CPU: {@code utime + stime} of {@code /proc/PID/stat} (fields 14 and 15, clock ticks, counting threads
 *       that have exited), and each thread's {@code /proc/PID/task/TID/schedstat} first field (time on CPU in
 *       nanoseconds, sched-stats.rst), whose deltas {@link #since} sums: nanosecond resolution where the ticks
 *       have 10 ms;
 *   <li>wake-ups: each thread's {@code voluntary_ctxt_switches} from {@code /proc/PID/task/TID/status}. A voluntary
 *       switch is the thread blocking (a futex wait, epoll_wait); every one is ended by a wake-up, so the sum of
 *       the deltas over the calls is the number of times a thread of the process was woken, and the threads whose
 *       count moved are the threads a call passes through;
 *   <li>RSS: {@code VmRSS} of {@code /proc/PID/status}.
 * </ul>
 */
record ProcessUsage(long ticks, Map<String, Long> runNanosByThread, Map<String, Long> wakesByThread, long rssKiB) {
    /** USER_HZ: the unit of utime and stime; 100 on every Linux architecture the daemon runs on (times(2)). */
    static final long TICKS_PER_SECOND = 100;

    static ProcessUsage of(long pid) throws IOException {
        Path proc = Path.of("/proc", Long.toString(pid));
        String stat = Files.readString(proc.resolve("stat"));
        // fields after the command, which may contain spaces and parentheses: split after its last ')'
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split(" ");
        long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]); // fields 14 and 15, counted from field 3
        Map<String, Long> run = new HashMap<>();
        Map<String, Long> wakes = new HashMap<>();
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(proc.resolve("task"))) {
            for (Path t : tasks) {
                try {
                    long onCpu = Long.parseLong(Files.readString(t.resolve("schedstat")).trim().split(" ")[0]);
                    String name = Files.readString(t.resolve("comm")).trim() + "/" + t.getFileName();
                    run.put(t.getFileName().toString(), onCpu); // by tid: a thread may rename itself
                    wakes.put(name, field(Files.readString(t.resolve("status")), "voluntary_ctxt_switches:"));
                } catch (NoSuchFileException gone) {
                    // the thread exited between the listing and the read: its time is in ticks, not in run
                }
            }
        }
        long rss = field(Files.readString(proc.resolve("status")), "VmRSS:");
        return new ProcessUsage(ticks, run, wakes, rss);
    }

    /**
     * The usage between {@code before} and this snapshot, per call. The time on CPU is summed per thread: a thread
     * that exited in between takes its last stretch with it (the ticks keep it), one that started counts from 0.
     * A sum over the task list instead went negative when a thread with more time than the stretch's exited.
     */
    Delta since(ProcessUsage before, int calls) {
        long runNanos = 0;
        for (Map.Entry<String, Long> e : runNanosByThread.entrySet()) {
            runNanos += e.getValue() - before.runNanosByThread.getOrDefault(e.getKey(), 0L);
        }
        Map<String, Long> moved = new TreeMap<>();
        long wakes = 0;
        for (Map.Entry<String, Long> e : wakesByThread.entrySet()) {
            long d = e.getValue() - before.wakesByThread.getOrDefault(e.getKey(), 0L);
            if (d > 0) {
                moved.put(e.getKey(), d);
                wakes += d;
            }
        }
        return new Delta(calls, (ticks - before.ticks) * (1_000_000 / TICKS_PER_SECOND) / (double) calls,
                runNanos / 1e3 / calls, wakes / (double) calls, moved, rssKiB);
    }

    /**
     * @param cpuMicrosPerCall utime + stime per call
     * @param runMicrosPerCall schedstat time on CPU per call
     * @param wakesPerCall voluntary context switches per call, all threads
     * @param wakesByThread the threads whose count moved, and by how much in total
     */
    record Delta(int calls, double cpuMicrosPerCall, double runMicrosPerCall, double wakesPerCall,
                 Map<String, Long> wakesByThread, long rssKiB) {
        /** Both stretches together: their calls, CPU and wake-ups added (per call, weighted by calls); the later RSS. */
        Delta plus(Delta o) {
            int total = calls + o.calls;
            Map<String, Long> moved = new TreeMap<>(wakesByThread);
            o.wakesByThread.forEach((k, v) -> moved.merge(k, v, Long::sum));
            return new Delta(total, (cpuMicrosPerCall * calls + o.cpuMicrosPerCall * o.calls) / total,
                    (runMicrosPerCall * calls + o.runMicrosPerCall * o.calls) / total,
                    (wakesPerCall * calls + o.wakesPerCall * o.calls) / total, moved, o.rssKiB);
        }

        /** The threads woken at least once per 10 calls, with their wake-ups per call. */
        String busyThreads() {
            StringBuilder b = new StringBuilder();
            wakesByThread.entrySet().stream().filter(e -> e.getValue() * 10 >= calls)
                    .sorted((x, y) -> Long.compare(y.getValue(), x.getValue()))
                    .forEach(e -> b.append(b.length() == 0 ? "" : ", ").append(e.getKey())
                            .append(String.format(" %.2f", e.getValue() / (double) calls)));
            return b.toString();
        }
    }

    private static long field(String status, String name) {
        for (String line : status.split("\n")) {
            if (line.startsWith(name)) {
                return Long.parseLong(line.substring(name.length()).trim().split("\\s+")[0]);
            }
        }
        throw new IllegalStateException("no " + name + " in /proc status");
    }
}
