package io.vmhandler.bench;

import io.vmhandler.proc.ProcFs;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The daemon as a separate {@code vmhandler run} process, as the DaemonSet runs it, for the soak and the
 * chaos runs: it can be SIGKILLed and restarted on the same socket and checkpoint directory, and its
 * RSS, fds and threads are those of the daemon alone. stdout goes to {@code <log>.out} (truncated per
 * start: the ready line is looked for there), stderr is appended to {@code log}, so the log of every
 * incarnation stays for a failure report.
 *
 * <p>Not thread-safe: one thread starts, measures and kills it.
 */
public final class DaemonProcess implements AutoCloseable {
    /** The image's JVM flags, read from the deployment files ({@link DeploymentJvm}), without the AppCDS archive. */
    public static final List<String> DEPLOYMENT_JVM = DeploymentJvm.ofRepository().flags();
    /** deploy/base/daemonset.yaml: resources.limits.memory of the daemon container. */
    public static final long CONTAINER_MEMORY_LIMIT_BYTES = DeploymentJvm.ofRepository().memoryLimitBytes();

    private final Process process;

    private DaemonProcess(Process process) {
        this.process = process;
    }

    /**
     * Starts {@code java JVM -cp CLASSPATH io.vmhandler.cli.Main run RUN_ARGS} and waits up to
     * {@code readySeconds} for its "vmhandler ready" line; kills it and throws if it does not come.
     */
    public static DaemonProcess start(List<String> jvm, String classpath, List<String> runArgs, Path log, int readySeconds)
            throws IOException, InterruptedException {
        List<String> argv = new ArrayList<>();
        argv.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        argv.addAll(jvm);
        argv.addAll(List.of("-cp", classpath, "io.vmhandler.cli.Main", "run"));
        argv.addAll(runArgs);
        Path out = Path.of(log + ".out");
        Process p = new ProcessBuilder(argv).redirectOutput(out.toFile())
                .redirectError(ProcessBuilder.Redirect.appendTo(new File(log.toString()))).start();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(readySeconds);
        while (System.nanoTime() < end) {
            if (Files.readString(out, StandardCharsets.UTF_8).startsWith("vmhandler ready")) {
                return new DaemonProcess(p);
            }
            if (!p.isAlive()) {
                throw new IOException("the daemon exited with " + p.exitValue() + " before it was ready; log " + log);
            }
            Thread.sleep(20);
        }
        p.destroyForcibly().waitFor();
        throw new IOException("the daemon was not ready after " + readySeconds + " s; log " + log);
    }

    public int pid() {
        return (int) process.pid();
    }

    public boolean alive() {
        return process.isAlive();
    }

    /** SIGKILL (what the OOM killer or a node crash does) and reap. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor();
    }

    public long rssBytes() throws IOException {
        return ProcFs.host().status(pid()).field("VmRSS").map(v -> Long.parseLong(v.replaceAll("\\D", "")) * 1024)
                .orElseThrow(() -> new IOException("no VmRSS in /proc/" + pid() + "/status"));
    }

    public int fds() throws IOException {
        return ProcFs.host().fds(pid()).size();
    }

    public int threads() throws IOException {
        return ProcFs.host().tasks(pid()).size();
    }

    /**
     * Used heap right after a full GC in the daemon: {@code jcmd PID GC.run}, then the used columns
     * (S0U S1U EU OU, KiB) of {@code jstat -gc PID}. The first call starts the daemon's attach listener
     * thread, which stays: measure once before taking a thread baseline.
     */
    public long heapAfterGcBytes() throws IOException, InterruptedException {
        String jdk = Path.of(System.getProperty("java.home"), "bin").toString();
        run(jdk + "/jcmd", Integer.toString(pid()), "GC.run");
        List<String> lines = run(jdk + "/jstat", "-gc", Integer.toString(pid())).lines().toList();
        List<String> head = List.of(lines.get(0).trim().split("\\s+"));
        String[] row = lines.get(1).trim().split("\\s+");
        double kib = 0;
        for (String col : List.of("S0U", "S1U", "EU", "OU")) {
            kib += Double.parseDouble(row[head.indexOf(col)]);
        }
        return (long) (kib * 1024);
    }

    @Override
    public void close() throws InterruptedException {
        kill();
    }

    /** Runs a command to its end; its output, or an IOException with the output if it exits non-zero. */
    static String run(String... argv) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", argv) + ": " + new String(out, StandardCharsets.UTF_8));
        }
        return new String(out, StandardCharsets.UTF_8);
    }
}
