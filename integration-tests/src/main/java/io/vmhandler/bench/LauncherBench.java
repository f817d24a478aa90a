package io.vmhandler.bench;

import io.vmhandler.core.app.Daemon;
import io.vmhandler.core.app.DaemonConfig;
import io.vmhandler.grpc.client.LauncherClient;
import java.io.IOException;
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

/**
 * The launcher API over the real unix socket: unary Info, and PrepareNetwork on an existing tap (the
 * adopt path: netns entry, netlink read, compare), with 1 and 16 concurrent callers, against a raw
 * unix-socket 64-byte round trip measured in the same client process. The caller runs inside a fake
 * pod (netns + kubelet-named cpuset cgroup) so the daemon's full identity path runs on every call.
 * Usage: {@code bin/bench-launcher [calls-per-thread]} as root.
 */
public final class LauncherBench {
    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("client")) {
            client(Path.of(args[1]), Integer.parseInt(args[2]));
            return;
        }
        int calls = args.length > 0 ? Integer.parseInt(args[0]) : 2000;
        String uid = UUID.randomUUID().toString();
        String ns = "vmh-lbench-" + ProcessHandle.current().pid();
        Path base = Files.createTempDirectory("vmh-lbench-");
        Path cpusetRoot = Path.of("/sys/fs/cgroup/cpuset");
        List<Path> made = new ArrayList<>();
        Daemon daemon = null;
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
            String cp = System.getProperty("java.class.path");
            List<String> argv = List.of("/bin/sh", "-c", "echo $$ > \"$1\"; n=\"$2\"; shift 2; exec nsenter --net=\"$n\" -- \"$@\"",
                    "sh", leaf.resolve("cgroup.procs").toString(), "/var/run/netns/" + ns,
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Dvmhandler.log.level=ERROR",
                    "-cp", cp, LauncherBench.class.getName(), "client", sock.toString(), Integer.toString(calls));
            Process p = new ProcessBuilder(argv).inheritIO().start();
            if (p.waitFor() != 0) {
                throw new IOException("bench client failed with exit " + p.exitValue());
            }
        } finally {
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

    private static void client(Path daemonSocket, int calls) throws Exception {
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

        try (LauncherClient client = LauncherClient.connect(daemonSocket)) {
            client.prepareNetwork(); // the tap exists from here on: the measured calls take the adopt path
            for (int i = 0; i < 3000; i++) { // JIT warm-up of every path (C2 needs thousands of calls)
                client.info();
                client.prepareNetwork();
                rawRoundTrips(echo, 20);
            }
            System.out.printf("launcher API over a unix socket, caller in a fake pod; %d calls per thread; microseconds%n", calls);
            System.out.printf("%-28s %8s %8s %8s %10s%n", "what", "threads", "p50", "p99", "calls/s");
            for (int threads : new int[] {1, 16}) {
                report("raw unix round trip (64 B)", threads, measure(threads, calls, () -> {
                    rawRoundTrips(echo, 1);
                    return null;
                }, echo));
                report("Info", threads, measure(threads, calls, () -> client.info(), echo));
                report("PrepareNetwork (adopt)", threads, measure(threads, calls, () -> client.prepareNetwork(), echo));
            }
            client.release();
        } finally {
            server.close();
            Files.deleteIfExists(echo);
            Files.deleteIfExists(echo.getParent());
        }
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

    private record Run(long[] nanos, long wallNanos) {}

    private static Run measure(int threads, int calls, Callable<Object> op, Path echo) throws Exception {
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
            long w0 = System.nanoTime();
            List<Future<long[]>> fs = pool.invokeAll(tasks);
            long wall = System.nanoTime() - w0;
            long[] all = new long[threads * calls];
            int k = 0;
            for (Future<long[]> f : fs) {
                for (long v : f.get()) {
                    all[k++] = v;
                }
            }
            return new Run(all, wall);
        } finally {
            pool.shutdownNow();
        }
    }

    private static void report(String what, int threads, Run r) {
        long[] s = r.nanos().clone();
        Arrays.sort(s);
        double perSec = s.length / (r.wallNanos() / 1e9);
        System.out.printf("%-28s %8d %8.1f %8.1f %10.0f%n", what, threads, s[s.length / 2] / 1e3,
                s[(int) (s.length * 0.99)] / 1e3, perSec);
    }

    private static void run(String... argv) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", argv) + ": " + new String(out, StandardCharsets.UTF_8));
        }
    }
}
