package io.vmhandler.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import jdk.jfr.consumer.RecordedClass;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordedStackTrace;
import jdk.jfr.consumer.RecordingFile;

/**
 * Profiles a running daemon process from outside while a benchmark makes calls to it (bin/bench-launcher-profile):
 * <ul>
 *   <li>syscalls per call: {@code strace -f -c -p PID} (strace(1): -f follows every thread, -c counts calls per
 *       syscall) around a stretch of calls, then around an idle stretch of the same length; the idle counts (epoll
 *       timeouts, GC and JIT threads, timers) are subtracted per syscall;
 *   <li>CPU and allocation: a JFR recording ({@code jcmd PID JFR.start}, the JDK's profile settings with Java
 *       execution samples every 1 ms) around a stretch of calls; the summary is the top frames by execution samples and the bytes
 *       allocated by class, from jdk.ObjectAllocationSample, whose {@code weight} is the bytes the sampled thread
 *       allocated since its previous sample (so the weights add up to the allocation, JDK-8257602);
 *   <li>CPU per call as the kernel sees it, where perf(1) is installed: {@code perf record -g -p PID} around a
 *       stretch of calls ({@link #perf}), by thread and by function, kernel time and the VM's exits included.
 * </ul>
 */
final class DaemonProfile {
    /** strace attaches to every thread one by one; calls start after this, in the idle window too. */
    private static final Duration ATTACH = Duration.ofSeconds(2);
    private static final String SAMPLE_PERIOD = "1 ms";

    private DaemonProfile() {}

    interface Calls {
        void run() throws Exception;
    }

    /** Syscalls per call by name: {@code calls} made by {@code body} under strace, minus an idle window as long. */
    static Map<String, Double> syscallsPerCall(long pid, Path dir, String tag, int calls, Calls body) throws Exception {
        long[] took = new long[1];
        Map<String, Long> busy = strace(pid, dir.resolve("strace-" + tag + ".txt"), () -> {
            long t0 = System.nanoTime();
            body.run();
            took[0] = System.nanoTime() - t0;
        });
        Map<String, Long> idle = strace(pid, dir.resolve("strace-" + tag + "-idle.txt"),
                () -> TimeUnit.NANOSECONDS.sleep(took[0]));
        Map<String, Double> perCall = new HashMap<>();
        for (String name : new TreeSet<>(busy.keySet())) {
            double n = (busy.get(name) - idle.getOrDefault(name, 0L)) / (double) calls;
            if (Math.abs(n) >= 0.005) {
                perCall.put(name, n);
            }
        }
        System.out.printf("  strace %s: %d calls in %.2f s under strace; idle window %.2f s%n", tag, calls,
                took[0] / 1e9, took[0] / 1e9);
        return perCall;
    }

    private static Map<String, Long> strace(long pid, Path out, Calls during) throws Exception {
        Process strace = new ProcessBuilder("strace", "-f", "-c", "-o", out.toString(), "-p", Long.toString(pid))
                .redirectErrorStream(true).redirectOutput(out.resolveSibling(out.getFileName() + ".log").toFile()).start();
        try {
            Thread.sleep(ATTACH.toMillis());
            if (!strace.isAlive()) {
                throw new IOException("strace -p " + pid + " exited with " + strace.exitValue() + ": "
                        + Files.readString(out.resolveSibling(out.getFileName() + ".log")));
            }
            during.run();
        } finally {
            // SIGTERM: strace detaches from every thread and writes its -c table (strace(1), "-c")
            strace.destroy();
            if (!strace.waitFor(30, TimeUnit.SECONDS)) {
                strace.destroyForcibly();
                throw new IOException("strace -p " + pid + " did not detach within 30 s");
            }
        }
        return parseStraceTable(Files.readString(out));
    }

    /**
     * The rows of strace's -c table: {@code % time, seconds, usecs/call, calls, [errors], syscall}; the errors
     * column is blank when there were none, so the calls are the fourth field and the name the last.
     */
    static Map<String, Long> parseStraceTable(String table) {
        Map<String, Long> calls = new HashMap<>();
        for (String line : table.split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length < 5 || !f[0].matches("[0-9.]+") || f[f.length - 1].equals("total")) {
                continue;
            }
            calls.merge(f[f.length - 1], Long.parseLong(f[3]), Long::sum);
        }
        return calls;
    }

    /** One table: a row per syscall, a column per stretch of calls, per call; sorted by the first column. */
    static void printSyscalls(Map<String, Map<String, Double>> byTag) {
        List<String> tags = new ArrayList<>(byTag.keySet());
        TreeSet<String> names = new TreeSet<>();
        byTag.values().forEach(m -> names.addAll(m.keySet()));
        List<String> rows = new ArrayList<>(names);
        Map<String, Double> first = byTag.get(tags.get(0));
        rows.sort((a, b) -> Double.compare(first.getOrDefault(b, 0.0), first.getOrDefault(a, 0.0)));
        StringBuilder h = new StringBuilder(String.format("  %-22s", "syscall per call"));
        tags.forEach(t -> h.append(String.format(" %14s", t)));
        System.out.println(h);
        Map<String, Double> totals = new LinkedHashMap<>();
        for (String name : rows) {
            StringBuilder r = new StringBuilder(String.format("  %-22s", name));
            for (String t : tags) {
                double v = byTag.get(t).getOrDefault(name, 0.0);
                totals.merge(t, v, Double::sum);
                r.append(String.format(" %14.2f", v));
            }
            System.out.println(r);
        }
        StringBuilder r = new StringBuilder(String.format("  %-22s", "total"));
        tags.forEach(t -> r.append(String.format(" %14.2f", totals.getOrDefault(t, 0.0))));
        System.out.println(r);
    }

    /**
     * Records {@code body} with JFR in the daemon process and prints the summary. {@code body} returns the
     * number of calls it made.
     */
    static void jfr(long pid, Path dir, String tag, java.util.concurrent.Callable<Integer> body) throws Exception {
        Path file = dir.resolve("daemon-" + tag + ".jfr");
        String name = "bench-" + tag;
        jcmd(pid, "JFR.start", "name=" + name, "settings=" + settings(dir));
        int calls;
        try {
            calls = body.call();
        } finally {
            jcmd(pid, "JFR.stop", "name=" + name, "filename=" + file);
        }
        summarize(file, tag, calls);
    }

    /** perf(1)'s sampling frequency: a prime, so sampling does not beat with the kernel's timer tick. */
    static final int PERF_HZ = 1999;

    /** Whether perf(1) is on PATH; the perf stage is skipped without it. */
    static boolean perfAvailable() {
        for (String d : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!d.isEmpty() && Files.isExecutable(Path.of(d, "perf"))) {
                return true;
            }
        }
        return false;
    }

    /**
     * CPU per call by thread and by function, from the kernel's view: {@code perf record -F 1999 -g -p PID} around
     * {@code body} (which returns the calls it made), then {@code jcmd PID Compiler.perfmap} so perf can name the JIT's
     * code (/tmp/perf-PID.map). A sample stands for 1/1999 s of one CPU, so samples / calls / 1999 is the CPU a call
     * cost on that thread or in that function, kernel time and the hypervisor's exits included (which JFR's sampler,
     * Java code only, does not see). Java frames are named only if the daemon runs with
     * {@code -XX:+PreserveFramePointer}; without it the top functions are still right, their callers are not.
     * Prints microseconds per call by thread and the top 25 functions by self time.
     */
    static void perf(long pid, Path dir, String tag, java.util.concurrent.Callable<Integer> body) throws Exception {
        Path data = dir.resolve("perf-" + tag + ".data");
        Process rec = new ProcessBuilder("perf", "record", "-q", "-F", Integer.toString(PERF_HZ), "-g", "-p",
                Long.toString(pid), "-o", data.toString()).redirectErrorStream(true)
                .redirectOutput(dir.resolve("perf-" + tag + ".log").toFile()).start();
        Thread.sleep(ATTACH.toMillis());
        int calls;
        try {
            calls = body.call();
        } finally {
            new ProcessBuilder("kill", "-INT", Long.toString(rec.pid())).start().waitFor();
            rec.waitFor();
        }
        jcmd(pid, "Compiler.perfmap");
        double perCall = 1e6 / PERF_HZ / calls;
        System.out.printf("perf %s: %d calls; microseconds of CPU per call (samples x %.3f)%n", tag, calls, perCall);
        System.out.println("  by thread:");
        printPerf(data, perCall, 8, "--sort", "comm");
        System.out.println("  top 25 functions by self time (thread, function):");
        printPerf(data, perCall, 25, "--sort", "comm,sym");
    }

    private static void printPerf(Path data, double perCall, int rows, String... sort)
            throws IOException, InterruptedException {
        List<String> argv = new ArrayList<>(List.of("perf", "report", "-i", data.toString(), "--no-children", "-q",
                "-g", "none", "-n", "--stdio"));
        argv.addAll(List.of(sort));
        Process p = new ProcessBuilder(argv).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        int shown = 0;
        for (String line : out.split("\n")) {
            // "    12.34%   567  comm  [.] symbol": percentage, sample count, then the sort keys
            String[] f = line.trim().split("\\s+", 3);
            if (f.length < 3 || !f[0].endsWith("%") || !f[1].matches("[0-9]+")) {
                continue;
            }
            System.out.printf("    %8.2f %7s  %s%n", Long.parseLong(f[1]) * perCall, f[0], f[2]);
            if (++shown == rows) {
                break;
            }
        }
    }

    /**
     * The JDK's profile settings with Java execution samples every {@value #SAMPLE_PERIOD} instead of 10 ms: the
     * sampler only samples threads running Java code, and the daemon's threads spend most of a call in the kernel,
     * so 10 ms gives under a hundred samples in 10 s of calls.
     */
    private static Path settings(Path dir) throws IOException {
        Path jdk = Path.of(System.getProperty("java.home"), "lib", "jfr", "profile.jfc");
        String profile = Files.readString(jdk);
        String fast = profile.replaceFirst(
                "(<event name=\"jdk.ExecutionSample\">\\s*<setting name=\"enabled\"[^<]*</setting>\\s*"
                        + "<setting name=\"period\"[^>]*>)[^<]*(</setting>)", "$1" + SAMPLE_PERIOD + "$2");
        if (fast.equals(profile)) {
            throw new IOException(jdk + ": no jdk.ExecutionSample period setting found to change");
        }
        Path out = dir.resolve("profile-" + SAMPLE_PERIOD.replace(" ", "") + ".jfc");
        Files.writeString(out, fast);
        return out;
    }

    private static void jcmd(long pid, String... command) throws IOException, InterruptedException {
        List<String> argv = new ArrayList<>(List.of("jcmd", Long.toString(pid)));
        argv.addAll(List.of(command));
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0 || out.contains("Could not") || out.contains("error")) {
            throw new IOException(String.join(" ", argv) + " failed: " + out.trim());
        }
    }

    static void summarize(Path file, String tag, int calls) throws IOException {
        Map<String, Long> topFrames = new HashMap<>();
        Map<String, Long> threads = new HashMap<>();
        Map<String, Long> allocByClass = new HashMap<>();
        long samples = 0;
        long allocated = 0;
        long gcs = 0;
        for (RecordedEvent e : RecordingFile.readAllEvents(file)) {
            switch (e.getEventType().getName()) {
                case "jdk.ExecutionSample" -> {
                    samples++;
                    RecordedStackTrace st = e.getStackTrace();
                    String top = st == null || st.getFrames().isEmpty() ? "(no stack)" : frame(st.getFrames().get(0));
                    topFrames.merge(top, 1L, Long::sum);
                    threads.merge(e.getThread("sampledThread").getJavaName(), 1L, Long::sum);
                }
                case "jdk.ObjectAllocationSample" -> {
                    long w = e.getLong("weight");
                    RecordedClass c = e.getClass("objectClass");
                    allocByClass.merge(c == null ? "?" : c.getName(), w, Long::sum);
                    allocated += w;
                }
                case "jdk.GarbageCollection" -> gcs++;
                default -> { }
            }
        }
        long all = samples;
        System.out.printf("JFR %s: %d calls; %d execution samples (every " + SAMPLE_PERIOD + " per thread in Java code); %d GCs;"
                + " allocation %.1f KB per call (ObjectAllocationSample weights)%n", tag, calls, all, gcs,
                allocated / 1024.0 / calls);
        System.out.println("  samples by thread: " + top(threads, 6, all));
        System.out.println("  top 15 frames by execution samples:");
        topFrames.entrySet().stream().sorted((a, b) -> Long.compare(b.getValue(), a.getValue())).limit(15)
                .forEach(x -> System.out.printf("    %5d %5.1f%%  %s%n", x.getValue(), 100.0 * x.getValue() / all,
                        x.getKey()));
        System.out.println("  allocation by class, bytes per call (top 15):");
        allocByClass.entrySet().stream().sorted((a, b) -> Long.compare(b.getValue(), a.getValue())).limit(15)
                .forEach(x -> System.out.printf("    %9.0f  %s%n", x.getValue() / (double) calls, x.getKey()));
    }

    private static String frame(RecordedFrame f) {
        return f.getMethod().getType().getName() + "." + f.getMethod().getName() + " (" + f.getType() + ")";
    }

    private static String top(Map<String, Long> m, int n, long of) {
        StringBuilder b = new StringBuilder();
        m.entrySet().stream().sorted((a, c) -> Long.compare(c.getValue(), a.getValue())).limit(n)
                .forEach(e -> b.append(b.length() == 0 ? "" : ", ")
                        .append(String.format("%s %.0f%%", e.getKey(), 100.0 * e.getValue() / Math.max(1, of))));
        return b.toString();
    }
}
