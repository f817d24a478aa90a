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
 * <p>The paths are measured interleaved ({@link #measureInterleaved}). {@code --split-cpus} pins the client to one CPU
 * and the daemon's process to the others ({@link #splitCpus}).
 *
 * <p>Usage: {@code bin/bench-launcher [calls-per-thread] [--warmup=SECONDS|jit] [--split-cpus] [--profile=DIR]} as
 * root.
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
        boolean splitCpus = false;
        for (String a : args) {
            if (a.startsWith("--profile=")) {
                profile = Files.createDirectories(Path.of(a.substring("--profile=".length()))).toAbsolutePath().toString();
            } else if (a.equals("--split-cpus")) {
                splitCpus = true;
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
            String clientCpus = splitCpus ? splitCpus() : null;
            daemon = new Daemon(DaemonConfig.standalone("bench-node", vmis, sock, base.resolve("ckpt")).withMetricsPort(-1)
                    .withMaxCallsPerCaller(32)).start();
            // the options the daemon builds for its own socket (Daemon: builder(socket) + maxCallsPerCaller)
            ServerOptions limits = ServerOptions.builder(sock).maxConcurrentCallsPerCaller(32).build();
            Path echoDirectSock = base.resolve("run").resolve("echo-direct.sock");
            Path echoDefaultSock = base.resolve("run").resolve("echo-default.sock");
            echoDirect = GrpcEchoFloor.start(echoDirectSock, limits, true);
            echoDefault = GrpcEchoFloor.start(echoDefaultSock, limits, false);
            String cp = System.getProperty("java.class.path");
            List<String> argv = new ArrayList<>(List.of("/bin/sh", "-c", "echo $$ > \"$1\"; n=\"$2\"; shift 2; exec "
                    + (clientCpus != null ? "taskset -c " + clientCpus + " " : "") + "nsenter --net=\"$n\" -- \"$@\"",
                    "sh", leaf.resolve("cgroup.procs").toString(), "/var/run/netns/" + ns));
            argv.addAll(ClientJvm.command());
            argv.addAll(List.of("-Dvmhandler.log.level=ERROR",
                    "-cp", cp, LauncherBench.class.getName(), "client", sock.toString(), Integer.toString(calls),
                    echoDirectSock.toString(), echoDefaultSock.toString(), warmup,
                    Long.toString(ProcessHandle.current().pid()), profile));
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

    /**
     * {@code --split-cpus}: the client on the first CPU this process may use, this process (the daemon and the echo
     * servers, every thread: {@code taskset -a}) on the others. Returns the client's CPU. Why: unpinned, the
     * scheduler decides per pair of threads, and anew in every run, whether a wake-up lands on the waker's CPU or on
     * the other one. In a run of 2026-12-07 with Info at x1.66 of the echo, the client woke Info's server thread on
     * its own CPU 75% of the time (sched_waking, 3 s of the warm-up) and the echo's server thread 38% of the time.
     * Unpinned, Info's ratio ran from x0.66 to x1.66 that day. Split, every call crosses between the same two sets
     * of CPUs in every run: the placement of a launcher pod and a daemon each given its own CPUs (kubelet's static
     * CPU manager policy).
     */
    private static String splitCpus() throws IOException, InterruptedException {
        List<Integer> cpus = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("Cpus_allowed_list:")) {
                for (String part : line.substring(line.indexOf(':') + 1).trim().split(",")) {
                    String[] r = part.split("-");
                    for (int c = Integer.parseInt(r[0]); c <= Integer.parseInt(r[r.length - 1]); c++) {
                        cpus.add(c);
                    }
                }
            }
        }
        if (cpus.size() < 2) {
            throw new IllegalArgumentException("--split-cpus needs at least 2 CPUs, this process may use " + cpus);
        }
        String rest = String.join(",", cpus.subList(1, cpus.size()).stream().map(String::valueOf).toList());
        run("taskset", "-a", "-p", "-c", rest, Long.toString(ProcessHandle.current().pid()));
        System.out.printf("--split-cpus: the client on CPU %d, the daemon's process on CPU(s) %s%n", cpus.get(0), rest);
        return Integer.toString(cpus.get(0));
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
            List<Callable<Object>> paths = List.of(() -> {
                rawRoundTrips(echo, 1);
                return null;
            }, direct::echo, pooled::echo, () -> client.info(), () -> client.prepareNetwork());
            // the measurement's own code once, unreported: its block barrier and /proc reads of the daemon, and 16
            // callers at once, which the warm-up's one thread never ran. Without it the client's compiler worked for
            // 0.9 s during the 1-caller rows and 3.7 s during the 16-caller rows, on the same 2 CPUs as both processes.
            long jitHarness = jitMillis();
            int harnessCalls = Math.max(BLOCK, calls / 4);
            for (int threads : new int[] {1, 16}) {
                measureInterleaved(threads, harnessCalls, paths, daemonPid);
            }
            System.out.printf("the measurement's code warmed (1 and 16 callers, %d calls each): client JIT compilation"
                    + " time %d ms -> %d ms; load average %s%n", harnessCalls, jitHarness, jitMillis(),
                    TapBench.loadAverage());
            System.out.printf("launcher API over a unix socket, caller in a fake pod; %d calls per thread; microseconds;"
                    + " daemon process (pid %d, which also serves the two echoes): CPU per call from /proc stat"
                    + " utime+stime and from task schedstat, voluntary context switches (wake-ups) per call%n",
                    calls, daemonPid);
            System.out.printf("%-28s %8s %8s %8s %10s %6s %9s %9s %8s%n", "what", "threads", "p50", "p99", "calls/s",
                    "load1", "cpu/call", "run/call", "wakes");
            for (int threads : new int[] {1, 16}) {
                long jit0 = jitMillis();
                // every path in turn, in blocks, so each one sees the same stretch of machine (see measureInterleaved)
                List<Run> runs = measureInterleaved(threads, calls, paths, daemonPid);
                Run floorDirect = runs.get(1);
                Run floorPooled = runs.get(2);
                Run info = runs.get(3);
                Run adopt = runs.get(4);
                report("raw unix round trip (64 B)", threads, runs.get(0));
                report("grpc echo, directExecutor", threads, floorDirect);
                report("grpc echo, default executor", threads, floorPooled);
                report("Info", threads, info);
                ratios("Info", threads, info, floorDirect, floorPooled);
                report("PrepareNetwork (adopt)", threads, adopt);
                ratios("PrepareNetwork", threads, adopt, floorDirect, floorPooled);
                // compilation in the client while it measured competes with both processes for the 2 CPUs
                System.out.printf("  client JIT compilation time while measuring at %d caller(s): %d ms%n", threads,
                        jitMillis() - jit0);
                if (threads == 1) {
                    System.out.printf("  threads woken per call at 1 caller (>= 0.1 per call): Info: %s%n"
                            + "    PrepareNetwork: %s%n    echo direct: %s%n", info.usage().busyThreads(),
                            adopt.usage().busyThreads(), floorDirect.usage().busyThreads());
                }
            }
            System.out.printf("daemon process RSS after measuring: %d KiB%n", ProcessUsage.of(daemonPid).rssKiB());
            System.out.printf("client process: JIT compilation time %d ms after measuring%n", jitMillis());
            String strace = System.getenv("VMH_BENCH_STRACE");
            if (strace != null) {
                straceDaemon(Path.of(strace), calls, () -> client.prepareNetwork());
            }
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

    /**
     * With {@code VMH_BENCH_STRACE=PREFIX}: {@code strace -f -c} on the daemon's process (this client's parent) over
     * {@code calls} calls of {@code op} from one thread ({@code PREFIX.calls}), then over an idle window of the same
     * length ({@code PREFIX.idle}), so the daemon's background syscalls (timers, GC, idle pollers) can be taken off:
     * per call = (calls - idle) / calls. strace gets 2 s to attach to every thread before each window.
     */
    private static void straceDaemon(Path prefix, int calls, Callable<Object> op) throws Exception {
        long daemon = ProcessHandle.current().parent().orElseThrow().pid();
        long nanos = 0;
        for (String window : List.of("calls", "idle")) {
            Path out = Path.of(prefix + "." + window);
            Process st = new ProcessBuilder("strace", "-f", "-c", "-o", out.toString(), "-p", Long.toString(daemon))
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            Thread.sleep(2000);
            if (window.equals("calls")) {
                long t0 = System.nanoTime();
                for (int i = 0; i < calls; i++) {
                    op.call();
                }
                nanos = System.nanoTime() - t0;
            } else {
                TimeUnit.NANOSECONDS.sleep(nanos);
            }
            new ProcessBuilder("kill", "-INT", Long.toString(st.pid())).start().waitFor();
            st.waitFor();
            System.out.printf("strace -f -c of the daemon (pid %d), %s window of %.2f s: %s%n", daemon, window,
                    nanos / 1e9, out);
        }
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

    /** Calls per thread in one block of {@link #measureInterleaved}. */
    private static final int BLOCK = 250;

    /**
     * Measures every path in {@code ops} with {@code threads} callers, {@code calls} calls per caller and path, in
     * blocks of {@value #BLOCK} calls per caller: a block of the first path, then of the next, round after round,
     * the first path of a round moving by one each round. A ratio of two paths is then a ratio of two sets of calls
     * made over the same seconds. Measured one path after the other, each path had its own stretch of a 2-vCPU VM
     * whose pace moves: on 2026-12-07 the first, sequential run put the echo at 61 us and Info at 152 us, while perf
     * put their server threads' CPU per call at 72 and 77 us. All callers run the same path at a time (a barrier
     * between blocks); the barrier's action reads the daemon's usage, so each path's CPU and wake-ups are the sum
     * over its own blocks.
     */
    private static List<Run> measureInterleaved(int threads, int calls, List<Callable<Object>> ops, long daemonPid)
            throws Exception {
        int n = ops.size();
        int rounds = (calls + BLOCK - 1) / BLOCK;
        long[][][] lat = new long[n][threads][rounds * BLOCK];
        ProcessUsage.Delta[] usage = new ProcessUsage.Delta[n];
        long[] wall = new long[n];
        int[] current = {-1};
        ProcessUsage[] before = new ProcessUsage[1];
        long[] blockStart = new long[1];
        // the action runs once all callers have finished a block (or before the first): it books the block's usage
        // to its path and picks the next path; the callers are all parked meanwhile
        java.util.concurrent.CyclicBarrier barrier = new java.util.concurrent.CyclicBarrier(threads, new Runnable() {
            private int block;

            @Override
            public void run() {
                try {
                    ProcessUsage now = ProcessUsage.of(daemonPid);
                    if (current[0] >= 0) {
                        int op = current[0];
                        wall[op] += System.nanoTime() - blockStart[0];
                        ProcessUsage.Delta d = now.since(before[0], threads * BLOCK);
                        usage[op] = usage[op] == null ? d : usage[op].plus(d);
                    }
                    if (block == rounds * n) {
                        current[0] = -1;
                        return;
                    }
                    int round = block / n;
                    current[0] = (block % n + round) % n;
                    block++;
                    before[0] = ProcessUsage.of(daemonPid);
                    blockStart[0] = System.nanoTime();
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }
        });
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Callable<Void>> tasks = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int caller = t;
                tasks.add(() -> {
                    int[] filled = new int[n];
                    while (true) {
                        barrier.await();
                        int op = current[0];
                        if (op < 0) {
                            return null;
                        }
                        long[] mine = lat[op][caller];
                        Callable<Object> call = ops.get(op);
                        for (int i = 0; i < BLOCK; i++) {
                            long t0 = System.nanoTime();
                            call.call();
                            mine[filled[op]++] = System.nanoTime() - t0;
                        }
                    }
                });
            }
            for (Future<Void> f : pool.invokeAll(tasks)) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
        List<Run> runs = new ArrayList<>();
        for (int op = 0; op < n; op++) {
            long[] all = new long[threads * rounds * BLOCK];
            int k = 0;
            for (long[] perCaller : lat[op]) {
                for (long v : perCaller) {
                    all[k++] = v;
                }
            }
            runs.add(new Run(all, wall[op], usage[op]));
        }
        return runs;
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
        if (DaemonProfile.perfAvailable()) {
            DaemonProfile.perf(daemonPid, dir, "echo-direct", () -> repeatFor(calls, 10, direct::echo));
            DaemonProfile.perf(daemonPid, dir, "info", () -> repeatFor(calls, 10, client::info));
            DaemonProfile.perf(daemonPid, dir, "prepare", () -> repeatFor(calls, 10, client::prepareNetwork));
        }
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
