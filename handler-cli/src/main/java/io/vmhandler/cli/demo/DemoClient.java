package io.vmhandler.cli.demo;

import io.vmhandler.cli.Main;
import io.vmhandler.proc.ProcFs;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The demo's launcher: {@code vmhandler launcher ...} run as a separate process inside the pod, as
 * uid 107 with no capabilities, so the daemon sees a real pod process through SO_PEERCRED. The
 * unprivileged process cannot read the build's classpath under /root, so it gets a world-readable copy.
 */
public final class DemoClient {
    /** The demo runs on the host it demonstrates: its QEMU is read under /proc. */
    private static final ProcFs PROC = ProcFs.host();
    private final DemoPod pod;
    private final Path socket;
    private final Path classpath;

    private DemoClient(DemoPod pod, Path socket, Path classpath) {
        this.pod = pod;
        this.socket = socket;
        this.classpath = classpath;
    }

    public static DemoClient create(DemoPod pod, Path socket, Path workDir) throws IOException {
        Path cp = Files.createDirectory(workDir.resolve("classpath"));
        int n = 0;
        for (String entry : System.getProperty("java.class.path").split(":")) {
            Path p = Path.of(entry);
            if (Files.isRegularFile(p)) {
                Files.copy(p, cp.resolve(n++ + "-" + p.getFileName()));
            } else if (Files.isDirectory(p)) {
                Path target = cp.resolve(n++ + "-classes");
                try (Stream<Path> s = Files.walk(p)) {
                    for (Path f : s.toList()) {
                        Path dest = target.resolve(p.relativize(f).toString());
                        if (Files.isDirectory(f)) {
                            Files.createDirectories(dest);
                        } else {
                            Files.copy(f, dest);
                        }
                    }
                }
            }
        }
        run(List.of("chmod", "-R", "a+rX", workDir.toString()));
        return new DemoClient(pod, socket, cp);
    }

    private String classpathArg() throws IOException {
        List<String> parts = new ArrayList<>();
        try (Stream<Path> s = Files.list(classpath)) {
            s.sorted().forEach(p -> parts.add(p.toString()));
        }
        return String.join(":", parts);
    }

    /** Runs one launcher call in the pod and prints its output; false if it failed. */
    public boolean call(PrintStream out, PrintStream err, String... args) throws IOException, InterruptedException {
        List<String> argv = pod.enter(107, 107);
        argv.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dvmhandler.log.level=ERROR", "-XX:TieredStopAtLevel=1", "-cp", classpathArg(),
                "io.vmhandler.cli.Main", "launcher", "--socket", socket.toString()));
        argv.addAll(List.of(args));
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        boolean ok = p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0;
        for (String line : text.split("\n")) {
            if (!line.isBlank()) {
                (ok ? out : err).println("  " + line);
            }
        }
        return ok;
    }

    /** A process of the pod that stands in for its libvirtd (root inside the pod, as in a root launcher). */
    public Process sleeper() throws IOException {
        List<String> argv = pod.enter(0, 0);
        argv.addAll(List.of("sleep", "3600"));
        return new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    }

    /** Waits until QEMU holds {@code want} tun fds on tap0 (numqueues + numdisabled). */
    public int waitForQueues(QemuProcess qemu, int want) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        int got = 0;
        while (System.nanoTime() < deadline && qemu.alive()) {
            got = tunFds(qemu.pid());
            if (got == want) {
                return got;
            }
            Thread.sleep(50);
        }
        return got;
    }

    public void waitForVcpuThreads(QemuProcess qemu, int vcpus) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline && vcpuThreads(qemu.pid()) < vcpus) {
            Thread.sleep(50);
        }
    }

    private static int tunFds(long pid) {
        int count = 0;
        try {
            for (int fd : PROC.fds((int) pid)) {
                if ("tap0".equals(PROC.fdinfo((int) pid, fd).get("iff"))) {
                    count++;
                }
            }
        } catch (IOException e) {
            return 0;
        }
        return count;
    }

    private static int vcpuThreads(long pid) {
        int count = 0;
        try {
            for (int tid : PROC.tasks((int) pid)) {
                try {
                    if (PROC.taskComm((int) pid, tid).startsWith("CPU ")) {
                        count++;
                    }
                } catch (IOException gone) {
                    // the thread exited while we listed
                }
            }
        } catch (IOException e) {
            return 0;
        }
        return count;
    }

    /** Prints the per-operation and per-VMI series from the daemon's /metrics. */
    public void printMetrics(PrintStream out, int port) throws IOException, InterruptedException {
        String body = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + port + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
        for (String line : body.split("\n")) {
            if (line.startsWith("vmhandler_privileged_operations_total") || line.startsWith("vmhandler_vmi_")
                    || line.startsWith("vmhandler_grpc_requests_total") || line.startsWith("vmhandler_vmis_managed")) {
                out.println("  " + line);
            }
        }
    }

    public static void removeTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    private static void run(List<String> argv) throws IOException {
        try {
            Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            if (p.waitFor() != 0) {
                throw new IOException(String.join(" ", argv) + " failed");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
    }
}
