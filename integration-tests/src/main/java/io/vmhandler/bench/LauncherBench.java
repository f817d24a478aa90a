package io.vmhandler.bench;

import io.vmhandler.core.app.Daemon;
import io.vmhandler.core.app.DaemonConfig;
import io.vmhandler.grpc.client.LauncherClient;
import io.vmhandler.grpc.server.ServerOptions;
import java.io.IOException;
import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * The launcher API over the real unix socket: unary Info, and PrepareNetwork on an existing tap (the
 * adopt path: netns entry, netlink read, compare), with 1 and 16 concurrent callers, against three
 * floors measured in the same run: a raw unix-socket 64-byte round trip, and a bare grpc-java unary
 * echo of 64 bytes served in the daemon's process with the daemon's transport and limits
 * ({@link GrpcEchoFloor}), once with {@code directExecutor()} and once with grpc's default executor.
 * Every Info and PrepareNetwork row is followed by its p50 and p99 as ratios to both echo floors; the
 * 1-minute load average is printed on every row.
 *
 * <p>The caller runs inside a fake pod (netns + kubelet-named cpuset cgroup) so the daemon's full
 * identity path runs on every call. Before anything is measured, every path runs in a loop for a
 * time-based warm-up, 60 s by default, so C2 has compiled the hot paths of both processes; the
 * client's JIT compilation time (CompilationMXBean) before and after the warm-up and after the
 * measurement shows whether compilation was still going on. {@code --warmup=jit} instead warms up until
 * the client's compilation time has not risen for {@value #JIT_QUIET_SECONDS} s (at least 10 s, at most
 * 300 s); {@code --warmup=N} warms up for N seconds (quick runs).
 *
 * <p>Every row also gives what the daemon's process spent per call ({@link ProcessUsage}: CPU from /proc stat and
 * task schedstat, wake-ups as voluntary context switches), and the threads woken per call at 1 caller. With
 * {@code --profile=DIR} (bin/bench-launcher-profile) the measured part is replaced by a profile of the daemon's
 * process ({@link DaemonProfile}: strace syscalls per call, JFR recordings).
 *
 * <p>Usage: {@code bin/bench-launcher [calls-per-thread] [--warmup=SECONDS|jit] [--profile=DIR]} as root.
 */
public final class LauncherBench {
    private static final int JIT_QUIET_SECONDS = 5;
    private static final int ECHO_BYTES = 64;

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("client")) {
            client(Path.of(args[1]), Integer.parseInt(args[2]), Path.of(args[3]), Path.of(args[4]), args[5],
                    Long.parseLong(args[6]), args[7].equals("-") ? null : Path.of(args[7]));
            return;
        }
        int calls = 2000;
        String warmup = "60";
        String profile = "-";
        for (String a : args) {
            if (a.startsWith("--profile=")) {
                profile = Files.createDirectories(Path.of(a.substring("--profile=".length()))).toAbsolutePath().toString();
            } else if (a.startsWith("--warmup=")) {
                warmup = a.substring("--warmup=".length());
                if (!warmup.equals("jit") && (!warmup.matches("[0-9]{1,4}") || Integer.parseInt(warmup) < 1)) {
                    throw new IllegalArgumentException("--warmup must be 'jit' or seconds in 1..9999, got '" + warmup + "'");
                }
            } else {
                calls = Integer.parseInt(a);
            }
        }
        String uid = UUID.randomUUID().toString();
        String ns = "vmh-lbench-" + ProcessHandle.current().pid();
        Path base = Files.createTempDirectory("vmh-lbench-");
        Path cpusetRoot = Path.of("/sys/fs/cgroup/cpuset");
        List<Path> made = new ArrayList<>();
        Daemon daemon = null;
        GrpcEchoFloor echoDirect = null;
        GrpcEchoFloor echoDefault = null;
        run("ip", "netns", "add", ns);
        try {
            Path leaf = cpusetRoot;
            for (String part : List.of("kubepods", "burstable", "pod" + uid, "c" + uid.replace("-", ""))) {
                Path parent = leaf;
                leaf = leaf.resolve(part);
                if (!Files.isDirectory(leaf)) {
                    Files.createDirectory(leaf);
                    made.add(0, leaf);
                    Files.writeString(leaf.resolve("cpuset.cpus"), Files.readString(parent.resolve("cpuset.cpus")).trim());
                    Files.writeString(leaf.resolve("cpuset.mems"), Files.readString(parent.resolve("cpuset.mems")).trim());
                }
            }
            Path vmis = Files.createDirectories(base.resolve("vmis"));
            Files.writeString(vmis.resolve("vm.yaml"), """
                    apiVersion: kubevirt.io/v1
                    kind: VirtualMachineInstance
                    metadata: {name: bench, namespace: default, labels: {kubevirt.io/nodeName: bench-node}}
                    spec:
                      domain:
                        cpu: {cores: 4}
                        memory: {guest: 1Gi}
                        devices: {networkInterfaceMultiqueue: true, interfaces: [{name: default, masquerade: {}}]}
                      networks: [{name: default, pod: {}}]
                    status: {activePods: {%s: bench-node}}
                    """.formatted(uid));
            Path sock = Files.createDirectories(base.resolve("run")).resolve("launcher.sock");
            daemon = new Daemon(DaemonConfig.standalone("bench-node", vmis, sock, base.resolve("ckpt")).withMetricsPort(-1)
                    .withMaxCallsPerCaller(32)).start();
            // the options the daemon builds for its own socket (Daemon: builder(socket) + maxCallsPerCaller)
            ServerOptions limits = ServerOptions.builder(sock).maxConcurrentCallsPerCaller(32).build();
            Path echoDirectSock = base.resolve("run").resolve("echo-direct.sock");
            Path echoDefaultSock = base.resolve("run").resolve("echo-default.sock");
            echoDirect = GrpcEchoFloor.start(echoDirectSock, limits, true);
            echoDefault = GrpcEchoFloor.start(echoDefaultSock, limits, false);
            String cp = System.getProperty("java.class.path");
            List<String> argv = List.of("/bin/sh", "-c", "echo $$ > \"$1\"; n=\"$2\"; shift 2; exec nsenter --net=\"$n\" -- \"$@\"",
                    "sh", leaf.resolve("cgroup.procs").toString(), "/var/run/netns/" + ns,
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Dvmhandler.log.level=ERROR",
                    "-cp", cp, LauncherBench.class.getName(), "client", sock.toString(), Integer.toString(calls),
                    echoDirectSock.toString(), echoDefaultSock.toString(), warmup,
                    Long.toString(ProcessHandle.current().pid()), profile);
            Process p = new ProcessBuilder(argv).inheritIO().start();
            if (p.waitFor() != 0) {
                throw new IOException("bench client failed with exit " + p.exitValue());
            }
            System.out.printf("daemon process: JIT compilation time %d ms in total; load average %s%n", jitMillis(),
                    TapBench.loadAverage());
        } finally {
            if (echoDirect != null) {
                echoDirect.close();
            }
            if (echoDefault != null) {
                echoDefault.close();
            }
            if (daemon != null) {
                daemon.close();
            }
            for (Path d : made) {
                Files.deleteIfExists(d);
            }
            run("ip", "netns", "del", ns);
            run("rm", "-rf", base.toString());
        }
    }

    private static void client(Path daemonSocket, int calls, Path echoDirectSock, Path echoDefaultSock, String warmup,
                               long daemonPid, Path profile) throws Exception {
        Path echo = Files.createTempDirectory("vmh-echo-").resolve("echo.sock");
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(echo));
        Thread acceptor = new Thread(() -> {
            try {
                while (true) {
                    SocketChannel c = server.accept();
                    Thread t = new Thread(() -> echoLoop(c));
                    t.setDaemon(true);
                    t.start();
                }
            } catch (IOException e) {
                // closed at the end of the run
            }
        });
        acceptor.setDaemon(true);
        acceptor.start();

        try (LauncherClient client = LauncherClient.connect(daemonSocket);
             GrpcEchoFloor.Client direct = new GrpcEchoFloor.Client(echoDirectSock, ECHO_BYTES);
             GrpcEchoFloor.Client pooled = new GrpcEchoFloor.Client(echoDefaultSock, ECHO_BYTES)) {
            client.prepareNetwork(); // the tap exists from here on: the measured calls take the adopt path
            warmUp(warmup, () -> {
                client.info();
                client.prepareNetwork();
                direct.echo();
                pooled.echo();
                rawRoundTrips(echo, 20);
            });
            if (profile != null) {
                profile(daemonPid, profile, calls, client, direct, pooled);
                client.release();
                return;
            }
            System.out.printf("launcher API over a unix socket, caller in a fake pod; %d calls per thread; microseconds;"
                    + " daemon process (pid %d, which also serves the two echoes): CPU per call from /proc stat"
                    + " utime+stime and from task schedstat, voluntary context switches (wake-ups) per call%n",
                    calls, daemonPid);
            System.out.printf("%-28s %8s %8s %8s %10s %6s %9s %9s %8s%n", "what", "threads", "p50", "p99", "calls/s",
                    "load1", "cpu/call", "run/call", "wakes");
            for (int threads : new int[] {1, 16}) {
                report("raw unix round trip (64 B)", threads, measure(threads, calls, () -> {
                    rawRoundTrips(echo, 1);
                    return null;
                }, daemonPid));
                Run floorDirect = measure(threads, calls, direct::echo, daemonPid);
                report("grpc echo, directExecutor", threads, floorDirect);
                Run floorPooled = measure(threads, calls, pooled::echo, daemonPid);
                report("grpc echo, default executor", threads, floorPooled);
                Run info = measure(threads, calls, () -> client.info(), daemonPid);
                report("Info", threads, info);
                ratios("Info", threads, info, floorDirect, floorPooled);
                Run adopt = measure(threads, calls, () -> client.prepareNetwork(), daemonPid);
                report("PrepareNetwork (adopt)", threads, adopt);
                ratios("PrepareNetwork", threads, adopt, floorDirect, floorPooled);
                if (threads == 1) {
                    System.out.printf("  threads woken per call at 1 caller (>= 0.1 per call): Info: %s%n"
                            + "    PrepareNetwork: %s%n    echo direct: %s%n", info.usage().busyThreads(),
                            adopt.usage().busyThreads(), floorDirect.usage().busyThreads());
                }
            }
            System.out.printf("daemon process RSS after measuring: %d KiB%n", ProcessUsage.of(daemonPid).rssKiB());
            System.out.printf("client process: JIT compilation time %d ms after measuring%n", jitMillis());
            client.release();
        } finally {
            server.close();
            Files.deleteIfExists(echo);
            Files.deleteIfExists(echo.getParent());
        }
    }

    interface Step {
        void run() throws Exception;
    }

    /**
     * Runs {@code step} in a loop: for a fixed number of seconds, or with "jit" until the JVM's total
     * JIT compilation time has stayed flat for {@value #JIT_QUIET_SECONDS} s (at least 10 s, at most 300 s).
     * java.lang.management exposes compilation time, not a count; time stops rising exactly when
     * compilations stop.
     */
    private static void warmUp(String spec, Step step) throws Exception {
        boolean jit = spec.equals("jit");
        long minNanos = TimeUnit.SECONDS.toNanos(jit ? 10 : Long.parseLong(spec));
        long maxNanos = jit ? TimeUnit.SECONDS.toNanos(300) : minNanos;
        long start = System.nanoTime();
        long jitStart = jitMillis();
        long lastJit = jitStart;
        long lastChange = start;
        long rounds = 0;
        while (true) {
            step.run();
            rounds++;
            long now = System.nanoTime();
            long j = jitMillis();
            if (j != lastJit) {
                lastJit = j;
                lastChange = now;
            }
            long elapsed = now - start;
            if (elapsed >= maxNanos || (elapsed >= minNanos
                    && (!jit || now - lastChange >= TimeUnit.SECONDS.toNanos(JIT_QUIET_SECONDS)))) {
                break;
            }
        }
        System.out.printf("warm-up (%s): %.0f s, %d rounds of every path; client JIT compilation time %d ms -> %d ms;"
                        + " load average %s%n", jit ? "until JIT is quiet" : spec + " s",
                (System.nanoTime() - start) / 1e9, rounds, jitStart, jitMillis(), TapBench.loadAverage());
    }

    private static long jitMillis() {
        CompilationMXBean c = ManagementFactory.getCompilationMXBean();
        return c != null && c.isCompilationTimeMonitoringSupported() ? c.getTotalCompilationTime() : -1;
    }

    private static final ThreadLocal<SocketChannel> RAW = new ThreadLocal<>();

    private static void rawRoundTrips(Path echo, int n) throws IOException {
        SocketChannel c = RAW.get();
        if (c == null) {
            c = SocketChannel.open(UnixDomainSocketAddress.of(echo));
            RAW.set(c);
        }
        ByteBuffer buf = ByteBuffer.allocateDirect(64);
        for (int i = 0; i < n; i++) {
            buf.clear();
            while (buf.hasRemaining()) {
                c.write(buf);
            }
            buf.clear();
            while (buf.hasRemaining()) {
                if (c.read(buf) < 0) {
                    throw new IOException("echo closed");
                }
            }
        }
    }

    private static void echoLoop(SocketChannel c) {
        ByteBuffer buf = ByteBuffer.allocateDirect(64);
        try (c) {
            while (true) {
                buf.clear();
                while (buf.hasRemaining()) {
                    if (c.read(buf) < 0) {
                        return;
                    }
                }
                buf.flip();
                while (buf.hasRemaining()) {
                    c.write(buf);
                }
            }
        } catch (IOException e) {
            // client went away
        }
    }

    private record Run(long[] nanos, long wallNanos, ProcessUsage.Delta usage) {
        long p50() {
            long[] s = nanos.clone();
            Arrays.sort(s);
            return s[s.length / 2];
        }

        long p99() {
            long[] s = nanos.clone();
            Arrays.sort(s);
            return s[(int) (s.length * 0.99)];
        }
    }

    private static Run measure(int threads, int calls, Callable<Object> op, long daemonPid) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Callable<long[]>> tasks = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                tasks.add(() -> {
                    long[] lat = new long[calls];
                    for (int i = 0; i < calls; i++) {
                        long t0 = System.nanoTime();
                        op.call();
                        lat[i] = System.nanoTime() - t0;
                    }
                    return lat;
                });
            }
            ProcessUsage before = ProcessUsage.of(daemonPid);
            long w0 = System.nanoTime();
            List<Future<long[]>> fs = pool.invokeAll(tasks);
            long wall = System.nanoTime() - w0;
            ProcessUsage.Delta usage = ProcessUsage.of(daemonPid).since(before, threads * calls);
            long[] all = new long[threads * calls];
            int k = 0;
            for (Future<long[]> f : fs) {
                for (long v : f.get()) {
                    all[k++] = v;
                }
            }
            return new Run(all, wall, usage);
        } finally {
            pool.shutdownNow();
        }
    }

    private static void report(String what, int threads, Run r) throws IOException {
        double perSec = r.nanos().length / (r.wallNanos() / 1e9);
        System.out.printf("%-28s %8d %8.1f %8.1f %10.0f %6s %9.1f %9.1f %8.2f%n", what, threads, r.p50() / 1e3,
                r.p99() / 1e3, perSec, TapBench.loadAverage().split(" ")[0], r.usage().cpuMicrosPerCall(),
                r.usage().runMicrosPerCall(), r.usage().wakesPerCall());
    }

    /**
     * bin/bench-launcher-profile: after the warm-up, the daemon's syscalls per call (strace) for each path at 1 caller,
     * then JFR recordings of Info and PrepareNetwork; no latency table (strace and JFR slow the daemon down).
     */
    private static void profile(long daemonPid, Path dir, int calls, LauncherClient client, GrpcEchoFloor.Client direct,
                                GrpcEchoFloor.Client pooled) throws Exception {
        System.out.printf("profile of the daemon process %d, %d calls per path, 1 caller; load average %s%n", daemonPid,
                calls, TapBench.loadAverage());
        java.util.Map<String, java.util.Map<String, Double>> table = new java.util.LinkedHashMap<>();
        table.put("Info", DaemonProfile.syscallsPerCall(daemonPid, dir, "info", calls, () -> repeat(calls, client::info)));
        table.put("PrepareNetwork", DaemonProfile.syscallsPerCall(daemonPid, dir, "prepare", calls,
                () -> repeat(calls, client::prepareNetwork)));
        table.put("echo direct", DaemonProfile.syscallsPerCall(daemonPid, dir, "echo-direct", calls,
                () -> repeat(calls, direct::echo)));
        table.put("echo default", DaemonProfile.syscallsPerCall(daemonPid, dir, "echo-default", calls,
                () -> repeat(calls, pooled::echo)));
        System.out.printf("syscalls per call in the daemon process (strace -f -c, minus an idle window as long);"
                + " load average %s%n", TapBench.loadAverage());
        DaemonProfile.printSyscalls(table);
        // at least 10 s per recording: 1 ms samples of a ~100 us call need thousands of calls to say anything
        DaemonProfile.jfr(daemonPid, dir, "info", () -> repeatFor(calls, 10, client::info));
        DaemonProfile.jfr(daemonPid, dir, "prepare", () -> repeatFor(calls, 10, client::prepareNetwork));
        System.out.printf("recordings and strace tables in %s; load average %s%n", dir, TapBench.loadAverage());
    }

    private static void repeat(int calls, Callable<?> op) throws Exception {
        for (int i = 0; i < calls; i++) {
            op.call();
        }
    }

    /** Runs {@code op} in rounds of {@code calls} until {@code seconds} have passed; returns the calls made. */
    private static int repeatFor(int calls, int seconds, Callable<?> op) throws Exception {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        int made = 0;
        do {
            repeat(calls, op);
            made += calls;
        } while (System.nanoTime() < end);
        return made;
    }

    private static void ratios(String what, int threads, Run r, Run direct, Run pooled) {
        System.out.printf("%-28s %8d  p50 x%.2f direct, x%.2f default; p99 x%.2f direct, x%.2f default%n",
                "  " + what + " / echo", threads, (double) r.p50() / direct.p50(), (double) r.p50() / pooled.p50(),
                (double) r.p99() / direct.p99(), (double) r.p99() / pooled.p99());
    }

    private static void run(String... argv) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", argv) + ": " + new String(out, StandardCharsets.UTF_8));
        }
    }
}
