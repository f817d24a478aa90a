package io.vmhandler.bench;

import io.vmhandler.grpc.client.LauncherClient;
import io.vmhandler.grpc.v1.PrepareNetworkResponse;
import io.vmhandler.grpc.v1.ReleaseResponse;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Soak of the launcher API (issue 8 item 4, issue 13 item 5): {@code cycles} PrepareNetwork/Release cycles
 * spread over {@code pods} concurrent fake pods (netns + kubelet-named cpuset cgroup + a VMI in a standalone
 * daemon's VMI directory), one client process started inside each pod. The daemon is a separate
 * {@code vmhandler run} process with the image's JVM flags ({@link DaemonProcess#DEPLOYMENT_JVM}), so its
 * fds, threads, RSS and heap (after a GC it is told to run) are its own. A warm-up round (10 cycles per pod)
 * fills the daemon's lazily grown fixed pools first; that state is the baseline. RSS is printed every
 * 10,000 cycles.
 *
 * <p>Then the memory check: 50 connections are opened and left silent, and 10,000 malformed connections
 * ({@link RawSocketAbuse}: random bytes, broken HTTP/2 prefaces, oversized frame headers, HTTP/1.1) arrive
 * while a pod's client must still be served; RSS is sampled every 100 ms and must stay below the
 * DaemonSet's memory limit. Exits 1 if fds, threads, heap or taps do not return to the baseline, or RSS
 * reaches the limit. Usage: {@code bin/bench-soak [cycles] [pods]} as root.
 */
public final class SoakBench {
    /** Heap after GC may wander by allocator/JIT noise; more than this above baseline counts as a leak. */
    private static final long HEAP_SLACK_BYTES = 8L << 20;
    private static final int RSS_EVERY = 10_000;
    private static final int SILENT_CONNECTIONS = 50;
    private static final int MALFORMED_REQUESTS = 10_000;

    private record Figures(long fds, int threads, long heapBytes, long rssBytes, int taps) {
        @Override
        public String toString() {
            return String.format("fds %5d  threads %4d  heap %7.1f MiB  rss %7.1f MiB  taps %4d", fds, threads,
                    heapBytes / 1048576.0, rssBytes / 1048576.0, taps);
        }
    }

    private record Pod(String uid, String netns, Path leaf) {}

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("client")) {
            System.exit(client(Path.of(args[1]), Integer.parseInt(args[2])));
        }
        int cycles = args.length > 0 ? Integer.parseInt(args[0]) : 10_000;
        int podCount = args.length > 1 ? Integer.parseInt(args[1]) : 20;
        if (cycles < podCount || podCount < 1) {
            throw new IllegalArgumentException("cycles (" + cycles + ") must be >= pods (" + podCount + ") >= 1");
        }
        Path base = Files.createTempDirectory("vmh-soak-");
        Path cpusetRoot = Path.of("/sys/fs/cgroup/cpuset");
        List<Pod> pods = new ArrayList<>();
        List<Path> made = new ArrayList<>(); // cgroup directories this run created, deepest first
        String root = "vmh-soak-" + ProcessHandle.current().pid();
        DaemonProcess daemon = null;
        boolean ok = false;
        try {
            Path vmis = Files.createDirectories(base.resolve("vmis"));
            for (int i = 0; i < podCount; i++) {
                String uid = UUID.randomUUID().toString();
                String ns = "vmh-soak-" + ProcessHandle.current().pid() + "-" + i;
                DaemonProcess.run("ip", "netns", "add", ns);
                // under a private --cgroup-root: other users of the node's /kubepods (tests tearing it down) cannot move our pods
                Path leaf = mkCpuset(cpusetRoot, List.of(root, "kubepods", "burstable", "pod" + uid, "c" + uid.replace("-", "")), made);
                pods.add(new Pod(uid, ns, leaf));
                Files.writeString(vmis.resolve("vm" + i + ".yaml"), """
                        apiVersion: kubevirt.io/v1
                        kind: VirtualMachineInstance
                        metadata: {name: soak%d, namespace: default, labels: {kubevirt.io/nodeName: soak-node}}
                        spec:
                          domain:
                            cpu: {cores: 2}
                            memory: {guest: 1Gi}
                            devices: {networkInterfaceMultiqueue: true, interfaces: [{name: default, masquerade: {}}]}
                          networks: [{name: default, pod: {}}]
                        status: {activePods: {%s: soak-node}}
                        """.formatted(i, uid));
            }
            Path sock = Files.createDirectories(base.resolve("run")).resolve("launcher.sock");
            daemon = DaemonProcess.start(DaemonProcess.DEPLOYMENT_JVM, System.getProperty("java.class.path"),
                    List.of("--node", "soak-node", "--vmi-dir", vmis.toString(), "--socket", sock.toString(),
                            "--checkpoint-dir", base.resolve("ckpt").toString(), "--metrics-port", "-1", "--selinux", "off"),
                    base.resolve("daemon.log"), 120);
            System.out.printf("daemon pid %d, JVM flags %s, log %s%n", daemon.pid(), DaemonProcess.DEPLOYMENT_JVM,
                    base.resolve("daemon.log"));

            Figures cold = measure(daemon, pods);
            long t0 = System.nanoTime();
            // warm-up: 10 cycles per pod, so the fixed pools (API workers, netns workers) reach their size
            runClients(pods, sock, 10 * podCount, podCount);
            Figures baseline = settle(daemon, pods, measure(daemon, pods));
            long t1 = System.nanoTime();
            for (int done = 0; done < cycles; ) {
                int chunk = Math.min(RSS_EVERY, cycles - done);
                runClients(pods, sock, chunk, podCount);
                done += chunk;
                System.out.printf("after %7d cycles: rss %7.1f MiB  fds %5d  threads %4d  (%.0f s)%n", done,
                        daemon.rssBytes() / 1048576.0, daemon.fds(), daemon.threads(), (System.nanoTime() - t1) / 1e9);
            }
            long t2 = System.nanoTime();
            Figures after = settle(daemon, pods, baseline);

            System.out.printf("soak: %d PrepareNetwork/Release cycles over %d concurrent fake pods%n", cycles, podCount);
            System.out.printf("cold (daemon started) : %s%n", cold);
            System.out.printf("baseline (warmed up)  : %s   warm-up %.1f s%n", baseline, (t1 - t0) / 1e9);
            System.out.printf("after soak            : %s   soak %.1f s, %.0f cycles/s%n", after, (t2 - t1) / 1e9,
                    cycles / ((t2 - t1) / 1e9));
            List<String> bad = new ArrayList<>();
            if (after.fds() > baseline.fds()) {
                bad.add("fds " + baseline.fds() + " -> " + after.fds());
            }
            if (after.threads() > baseline.threads()) {
                bad.add("threads " + baseline.threads() + " -> " + after.threads());
            }
            if (after.heapBytes() > baseline.heapBytes() + HEAP_SLACK_BYTES) {
                bad.add("heap " + baseline.heapBytes() + " -> " + after.heapBytes() + " (slack " + HEAP_SLACK_BYTES + ")");
            }
            if (after.taps() != 0) {
                bad.add(after.taps() + " taps left in the pod netns");
            }
            bad.addAll(hostileMemory(daemon, pods, sock));
            System.out.println(bad.isEmpty() ? "RESULT: everything returned to baseline, RSS below the limit"
                    : "RESULT: NOT at baseline: " + bad);
            ok = bad.isEmpty();
        } finally {
            if (daemon != null) {
                daemon.close();
            }
            for (Pod p : pods) {
                DaemonProcess.run("ip", "netns", "del", p.netns());
            }
            for (Path d : made) {
                try {
                    Files.deleteIfExists(d);
                } catch (IOException busy) {
                    // a shared level (kubepods, burstable) that another pod on this node now uses: left in place
                    System.err.println("left " + d + ": " + busy.getMessage());
                }
            }
            DaemonProcess.run("rm", "-rf", base.toString());
        }
        System.exit(ok ? 0 : 1);
    }

    /**
     * 50 silent connections held open while 10,000 malformed connections arrive and pod 0's client is
     * served; returns what went wrong (RSS at or above the container limit, the daemon gone).
     */
    private static List<String> hostileMemory(DaemonProcess daemon, List<Pod> pods, Path sock) throws Exception {
        List<String> bad = new ArrayList<>();
        long before = daemon.rssBytes();
        List<SocketChannel> silent = new ArrayList<>();
        AtomicLong peak = new AtomicLong(before);
        AtomicBoolean sampling = new AtomicBoolean(true);
        Thread sampler = new Thread(() -> {
            while (sampling.get()) {
                try {
                    peak.accumulateAndGet(daemon.rssBytes(), Math::max);
                    Thread.sleep(100);
                } catch (Exception e) {
                    return; // the daemon is gone: reported below
                }
            }
        }, "rss-sampler");
        long t0 = System.nanoTime();
        long during;
        try {
            for (int i = 0; i < SILENT_CONNECTIONS; i++) {
                SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
                silent.add(ch);
                ch.connect(UnixDomainSocketAddress.of(sock));
            }
            sampler.start();
            RawSocketAbuse.run(sock, new Random(13), MALFORMED_REQUESTS, 0, () -> {
                runClients(pods, sock, 1, 1);
                return "served";
            });
            during = daemon.rssBytes();
        } finally {
            for (SocketChannel ch : silent) {
                ch.close();
            }
            sampling.set(false);
            sampler.join();
        }
        Thread.sleep(1000);
        long after = daemon.rssBytes();
        System.out.printf("hostile: %d silent connections held, %d malformed connections in %.1f s; RSS before %.1f MiB,"
                + " during (at the end) %.1f MiB, peak %.1f MiB, after %.1f MiB; limit %.0f MiB%n", SILENT_CONNECTIONS,
                MALFORMED_REQUESTS, (System.nanoTime() - t0) / 1e9, before / 1048576.0, during / 1048576.0,
                peak.get() / 1048576.0, after / 1048576.0, DaemonProcess.CONTAINER_MEMORY_LIMIT_BYTES / 1048576.0);
        if (!daemon.alive()) {
            bad.add("the daemon died during the malformed requests");
        }
        if (peak.get() >= DaemonProcess.CONTAINER_MEMORY_LIMIT_BYTES) {
            bad.add("RSS peak " + peak.get() + " >= container limit " + DaemonProcess.CONTAINER_MEMORY_LIMIT_BYTES);
        }
        return bad;
    }

    /** One client process per pod, born in its cgroup and netns, each doing its share of the cycles. */
    private static void runClients(List<Pod> pods, Path sock, int cycles, int clients) throws Exception {
        String cp = System.getProperty("java.class.path");
        List<Process> procs = new ArrayList<>();
        for (int i = 0; i < clients; i++) {
            Pod p = pods.get(i);
            int share = cycles / clients + (i < cycles % clients ? 1 : 0);
            List<String> argv = List.of("/bin/sh", "-c", "echo $$ > \"$1\"; n=\"$2\"; shift 2; exec nsenter --net=\"$n\" -- \"$@\"",
                    "sh", p.leaf().resolve("cgroup.procs").toString(), "/var/run/netns/" + p.netns(),
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx64m", "-XX:TieredStopAtLevel=1",
                    "-Dvmhandler.log.level=ERROR", "-cp", cp, SoakBench.class.getName(), "client", sock.toString(),
                    Integer.toString(share));
            procs.add(new ProcessBuilder(argv).inheritIO().start());
        }
        int failed = 0;
        for (Process p : procs) {
            if (p.waitFor() != 0) {
                failed++;
            }
        }
        if (failed > 0) {
            throw new IOException(failed + " soak client(s) failed");
        }
    }

    private static int client(Path sock, int cycles) {
        // 20 client JVMs load gRPC and Netty at once on a small node: the first call may start late
        try (LauncherClient client = LauncherClient.connect(sock, java.time.Duration.ofSeconds(60))) {
            for (int i = 0; i < cycles; i++) {
                PrepareNetworkResponse prep = client.prepareNetwork();
                ReleaseResponse rel = client.release();
                if (prep.getTapsCount() != 1 || rel.getRemovedTapsCount() != 1) {
                    System.err.printf("cycle %d: prepared %d taps, released %s%n", i, prep.getTapsCount(), rel.getRemovedTapsList());
                    return 1;
                }
            }
            return 0;
        } catch (RuntimeException e) {
            System.err.println("soak client failed: " + e);
            return 1;
        }
    }

    /** Waits up to 10 s for asynchronous closes (sockets, pool threads past keep-alive) to reach {@code target}. */
    private static Figures settle(DaemonProcess daemon, List<Pod> pods, Figures target) throws Exception {
        Figures f = measure(daemon, pods);
        for (int i = 0; i < 20 && (f.fds() > target.fds() || f.threads() > target.threads()); i++) {
            Thread.sleep(500);
            f = measure(daemon, pods);
        }
        return f;
    }

    private static Figures measure(DaemonProcess daemon, List<Pod> pods) throws Exception {
        long heap = daemon.heapAfterGcBytes(); // first: its attach listener thread then counts in every figure
        int taps = 0;
        for (Pod p : pods) {
            String links = DaemonProcess.run("ip", "-n", p.netns(), "-o", "link");
            taps += (int) links.lines().filter(l -> l.matches("\\d+: tap.*")).count();
        }
        return new Figures(daemon.fds(), daemon.threads(), heap, daemon.rssBytes(), taps);
    }

    static Path mkCpuset(Path root, List<String> parts, List<Path> made) throws IOException {
        Path leaf = root;
        for (String part : parts) {
            Path parent = leaf;
            leaf = leaf.resolve(part);
            if (!Files.isDirectory(leaf)) {
                Files.createDirectory(leaf);
                made.add(0, leaf);
                Files.writeString(leaf.resolve("cpuset.cpus"), Files.readString(parent.resolve("cpuset.cpus")).trim());
                Files.writeString(leaf.resolve("cpuset.mems"), Files.readString(parent.resolve("cpuset.mems")).trim());
            }
        }
        return leaf;
    }
}
