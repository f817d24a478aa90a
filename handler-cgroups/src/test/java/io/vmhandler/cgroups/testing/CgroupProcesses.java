package io.vmhandler.cgroups.testing;

import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.Processes;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Starts a process that is born inside given cgroups, as a container's processes are: a shell
 * writes its own pid into each {@code cgroup.procs}, then execs the command, so every thread the
 * command creates starts in those cgroups. The process is registered for a forced kill.
 */
public final class CgroupProcesses {
    private CgroupProcesses() {}

    public static Process start(HostCleanup host, List<Path> cgroupDirs, List<String> command) {
        String procs = cgroupDirs.stream().map(d -> d.resolve("cgroup.procs").toString()).collect(Collectors.joining(" "));
        List<String> argv = new ArrayList<>(List.of("/bin/sh", "-c", "for f in $VMH_PROCS; do echo $$ > $f; done; exec \"$@\"", "sh"));
        argv.addAll(command);
        ProcessBuilder pb = new ProcessBuilder(argv).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        pb.environment().put("VMH_PROCS", procs);
        Process p = host.process(pb);
        Processes.awaitExec(p, Path.of(command.get(0)).getFileName().toString());
        return p;
    }

    /** Waits until the process has at least {@code n} threads. */
    public static List<Integer> awaitThreads(long pid, int n) throws IOException {
        Path task = Path.of("/proc", Long.toString(pid), "task");
        for (int i = 0; i < 400; i++) {
            List<Integer> tids;
            try (var s = Files.list(task)) {
                tids = s.map(t -> Integer.parseInt(t.getFileName().toString())).sorted().toList();
            }
            if (tids.size() >= n) {
                return tids;
            }
            sleep(25);
        }
        throw new AssertionError("pid " + pid + " did not reach " + n + " threads within 10 s");
    }

    /** The cgroup line of one thread in one hierarchy, e.g. "cpuset" or "" for v2. */
    public static String threadCgroup(long pid, int tid, String controllers) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "task", Integer.toString(tid), "cgroup"))) {
            String[] f = line.split(":", 3);
            if (f.length == 3 && f[1].equals(controllers)) {
                return f[2];
            }
        }
        throw new AssertionError("thread " + tid + " has no '" + controllers + "' hierarchy");
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
