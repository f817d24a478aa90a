package io.vmhandler.bench;

import io.vmhandler.core.app.Daemon;
import io.vmhandler.core.app.DaemonConfig;
import io.vmhandler.core.checkpoint.CheckpointRecord;
import io.vmhandler.core.checkpoint.CheckpointStore;
import io.vmhandler.grpc.client.LauncherClient;
import io.vmhandler.nativeio.Fd;
import io.vmhandler.nativeio.NetNamespace;
import io.vmhandler.net.IoctlTapDevices;
import io.vmhandler.net.TapSpec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;

/**
 * Release of a 4-tap pod over the launcher API, against the kernel's own deletion cost measured in the same run
 * (docs/launcher-api.md §3.5):
 * <ol>
 *   <li>kernel: 100 taps of 4 queues deleted one after the other ({@link IoctlTapDevices#delete}: one
 *       RTM_GETLINK and one RTM_DELLINK each) in a netns of the bench's own; the wall time of the 100;
 *   <li>Release: a caller in a fake pod (netns + kubelet-named cpuset cgroup, as SoakBench's) runs 100
 *       cycles of PrepareNetwork (4 taps, not timed; it waits for the pod's previous deletions) and Release
 *       (timed): Release p50 and p99, the sum of the 100 Release calls, the cycles' wall time, and how long after
 *       the last Release answered the last released tap was deleted;
 *   <li>the checkpoint write Release makes, with and without fsync, alternated in one loop.
 * </ol>
 * The 1-minute load average is printed with the figures. Warm-up: 30 cycles first.
 *
 * <p>Usage: {@code bin/bench-release [cycles, default 100]} as root. Everything it makes (netns, cgroups, the
 * daemon's directories) is removed at the end, also after a failure.
 */
public final class ReleaseBench {
    private static final int TAPS = 4;
    /**
     * Warm-up cycles before the measured ones ({@code -Dbench.warmupCycles}, default 300, about 10 s), after
     * {@code -Dbench.warmupInfoSeconds} (default 10) of Info calls on the same channel: the client is a fresh JVM
     * and the daemon's Release path is cold too; with 30 cycles and no Info the client-side p50 was 4.8-5.6 ms
     * while the daemon timed the whole call at a 2.2-2.6 ms mean, the rest being both sides' interpreted code.
     */
    private static final int WARMUP = Integer.getInteger("bench.warmupCycles", 300);
    private static final int WARMUP_INFO_SECONDS = Integer.getInteger("bench.warmupInfoSeconds", 10);

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("client")) {
            client(Path.of(args[1]), Integer.parseInt(args[2]));
            return;
        }
        int cycles = args.length > 0 ? Integer.parseInt(args[0]) : 100;
        if (cycles < 10 || cycles > 10_000) {
            throw new IllegalArgumentException("cycles must be in 10..10000, got " + cycles);
        }
        String uid = UUID.randomUUID().toString();
        String ns = "vmh-rbench-" + ProcessHandle.current().pid();
        String scratch = "vmh-rbench-k-" + ProcessHandle.current().pid();
        Path base = Files.createTempDirectory("vmh-rbench-");
        List<Path> made = new ArrayList<>();
        DaemonProcess.run("ip", "netns", "add", ns);
        DaemonProcess.run("ip", "netns", "add", scratch);
        try {
            System.out.printf("load average at start %s%n", TapBench.loadAverage());
            long kernel = sequentialDeletes("/var/run/netns/" + scratch, cycles);
            System.out.printf("kernel: %d taps of %d queues deleted one after the other: %.1f ms (%.2f ms each); load1 %s%n",
                    cycles, TAPS, kernel / 1e6, kernel / 1e6 / cycles, TapBench.loadAverage().split(" ")[0]);

            checkpointWrites(Files.createDirectories(base.resolve("ckpt-probe")), 200);

            Path leaf = SoakBench.mkCpuset(Path.of("/sys/fs/cgroup/cpuset"),
                    List.of("kubepods", "burstable", "pod" + uid, "c" + uid.replace("-", "")), made);
            Path vmis = Files.createDirectories(base.resolve("vmis"));
            StringBuilder ifs = new StringBuilder("{name: default, masquerade: {}}");
            StringBuilder nets = new StringBuilder("{name: default, pod: {}}");
            for (int i = 1; i < TAPS; i++) {
                ifs.append(", {name: n").append(i).append(", bridge: {}}");
                nets.append(", {name: n").append(i).append(", multus: {networkName: br").append(i).append("}}");
            }
            Files.writeString(vmis.resolve("vm.yaml"), """
                    apiVersion: kubevirt.io/v1
                    kind: VirtualMachineInstance
                    metadata: {name: rbench, namespace: default, labels: {kubevirt.io/nodeName: bench-node}}
                    spec:
                      domain:
                        cpu: {cores: %d}
                        memory: {guest: 1Gi}
                        devices: {networkInterfaceMultiqueue: true, interfaces: [%s]}
                      networks: [%s]
                    status: {activePods: {%s: bench-node}}
                    """.formatted(TAPS, ifs, nets, uid));
            Path sock = Files.createDirectories(base.resolve("run")).resolve("launcher.sock");
            try (Daemon daemon = new Daemon(DaemonConfig.standalone("bench-node", vmis, sock, base.resolve("ckpt"))
                    .withMetricsPort(-1)).start()) {
                List<String> argv = new ArrayList<>(List.of("/bin/sh", "-c",
                        "echo $$ > \"$1\"; n=\"$2\"; shift 2; exec nsenter --net=\"$n\" -- \"$@\"",
                        "sh", leaf.resolve("cgroup.procs").toString(), "/var/run/netns/" + ns));
                argv.addAll(ClientJvm.command());
                argv.addAll(List.of("-Dvmhandler.log.level=ERROR",
                        "-Dbench.warmupCycles=" + WARMUP, "-Dbench.warmupInfoSeconds=" + WARMUP_INFO_SECONDS,
                        "-cp", System.getProperty("java.class.path"), ReleaseBench.class.getName(), "client",
                        sock.toString(), Integer.toString(cycles)));
                Process p = new ProcessBuilder(argv).inheritIO().start();
                if (p.waitFor() != 0) {
                    throw new IOException("bench client failed with exit " + p.exitValue());
                }
                // where a Release's time goes, from the daemon's own histograms (warm-up included)
                System.out.printf("daemon side, mean per call: %s%n", String.join(", ", opMeans(daemon,
                        "vmhandler_privileged_operation_duration_seconds", "op",
                        List.of("identity_resolve", "tap_delete", "tap_reap"))));
                // the whole call as the server timed it: the rest of the client's figure is transport and scheduling
                System.out.printf("daemon side, whole call, mean: %s%n", String.join(", ", opMeans(daemon,
                        "vmhandler_grpc_request_duration_seconds", "method", List.of("Release", "PrepareNetwork"))));
            }
            System.out.printf("same run: kernel, %d sequential deletions: %.1f ms%n", cycles, kernel / 1e6);
            System.out.printf("load average at end %s%n", TapBench.loadAverage());
        } finally {
            for (Path d : made) {
                Files.deleteIfExists(d);
            }
            DaemonProcess.run("ip", "netns", "del", ns);
            DaemonProcess.run("ip", "netns", "del", scratch);
            DaemonProcess.run("rm", "-rf", base.toString());
        }
    }

    /** "value mean ms (count)" for each value of the histogram's {@code label} in {@code ops}. */
    private static List<String> opMeans(Daemon daemon, String histogram, String label, List<String> ops) {
        List<String> out = new ArrayList<>();
        for (var m : daemon.metrics().registry().scrape()) {
            if (m instanceof io.prometheus.metrics.model.snapshots.HistogramSnapshot h
                    && h.getMetadata().getName().equals(histogram)) {
                for (var d : h.getDataPoints()) {
                    String op = d.getLabels().get(label);
                    if (ops.contains(op) && d.getCount() > 0) {
                        out.add(String.format("%s %.3f ms (%d)", op, d.getSum() * 1e3 / d.getCount(), d.getCount()));
                    }
                }
            }
        }
        return out;
    }

    /** Makes {@code n} taps of {@link #TAPS} queues, then deletes them one after the other; the deletions' wall time. */
    private static long sequentialDeletes(String nsPath, int n) throws IOException {
        try (NetNamespace runner = new NetNamespace("rbench", 1); Fd fd = NetNamespace.openNetns(nsPath)) {
            IoctlTapDevices taps = new IoctlTapDevices(runner);
            for (int i = 0; i < n; i++) {
                taps.create(fd, new TapSpec("k" + i, TAPS, 107, 107, null));
            }
            long t0 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                if (!taps.delete(fd, "k" + i)) {
                    throw new IOException("tap k" + i + " was not there to delete");
                }
            }
            return System.nanoTime() - t0;
        }
    }

    /** In the pod: warm-up cycles, then the measured ones; prints the figures. */
    private static void client(Path sock, int cycles) throws Exception {
        try (LauncherClient client = LauncherClient.connect(sock)) {
            long infoUntil = System.nanoTime() + WARMUP_INFO_SECONDS * 1_000_000_000L;
            while (System.nanoTime() < infoUntil) {
                client.info();
            }
            for (int i = 0; i < WARMUP; i++) {
                client.prepareNetwork();
                client.release();
            }
            awaitNoTap();
            long[] release = new long[cycles];
            long started = System.nanoTime();
            long prepare = 0;
            for (int i = 0; i < cycles; i++) {
                long t0 = System.nanoTime();
                if (client.prepareNetwork().getTapsCount() != TAPS) {
                    throw new IOException("PrepareNetwork did not return " + TAPS + " taps");
                }
                long t1 = System.nanoTime();
                int removed = client.release().getRemovedTapsCount();
                release[i] = System.nanoTime() - t1;
                prepare += t1 - t0;
                if (removed != TAPS) {
                    throw new IOException("Release removed " + removed + " taps, expected " + TAPS);
                }
            }
            long answered = System.nanoTime();
            long drained = awaitNoTap() - answered;
            long wall = answered - started;
            long sum = Arrays.stream(release).sum();
            long[] s = release.clone();
            Arrays.sort(s);
            System.out.printf("Release of a %d-tap pod, %d cycles after %d warm-up: p50 %.3f ms, p99 %.3f ms, max %.3f ms;"
                            + " load1 %s%n", TAPS, cycles, WARMUP, s[cycles / 2] / 1e6, s[(int) (cycles * 0.99)] / 1e6,
                    s[cycles - 1] / 1e6, TapBench.loadAverage().split(" ")[0]);
            System.out.printf("%d Release calls (%d taps): %.1f ms in all; PrepareNetwork between them %.1f ms in all;"
                    + " last released tap deleted %.1f ms after the last Release answered; the %d cycles took %.1f ms;"
                    + " load1 %s%n", cycles, cycles * TAPS, sum / 1e6, prepare / 1e6, drained / 1e6, cycles, wall / 1e6,
                    TapBench.loadAverage().split(" ")[0]);
        }
    }

    /**
     * Polls the pod's links (this process is in its netns) until no tap is left (the released ones keep their names
     * until deleted, and the warm-up's last Release left none in use); the time then.
     */
    private static long awaitNoTap() throws Exception {
        long end = System.nanoTime() + 60_000_000_000L;
        while (System.nanoTime() < end) {
            Process p = new ProcessBuilder("ip", "-o", "link").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor();
            if (!out.contains(": tap") && !out.contains(": vmhdel-")) {
                return System.nanoTime();
            }
            Thread.sleep(2);
        }
        throw new IOException("released taps still there after 60 s");
    }

    /**
     * What Release's checkpoint write costs with and without fsync: {@code n} writes of a record shaped like the
     * deleter's (pod, pid, start, four taps), alternating the two modes, in a directory beside the daemon's. The
     * replaced content's unlink is deferred as the daemon defers it past the call's reply (CheckpointDir), and timed
     * apart.
     */
    private static void checkpointWrites(Path dir, int n) throws IOException {
        long[] durable = new long[n];
        long[] unsynced = new long[n];
        long[] disposals = new long[2 * n];
        int d = 0;
        List<Runnable> deferred = new ArrayList<>();
        try (CheckpointStore store = CheckpointStore.open(dir)) {
            store.disposeReplacedWith(deferred::add);
            for (int i = 0; i < n; i++) {
                CheckpointRecord r = CheckpointRecord.empty("tap-reap.probe").with("pod", UUID.randomUUID().toString())
                        .with("pid", Integer.toString(100_000 + i)).with("start", Long.toString(1_000_000L + i));
                for (int t = 0; t < TAPS; t++) {
                    r = r.with("tap." + (10 * i + t), "tap" + t);
                }
                long t0 = System.nanoTime();
                store.put(r);
                long t1 = System.nanoTime();
                d = dispose(deferred, disposals, d);
                long t2 = System.nanoTime();
                store.putWithoutFsync(r.with("start", Long.toString(i)));
                long t3 = System.nanoTime();
                d = dispose(deferred, disposals, d);
                durable[i] = t1 - t0;
                unsynced[i] = t3 - t2;
            }
        }
        Arrays.sort(durable);
        Arrays.sort(unsynced);
        long[] disposed = Arrays.copyOf(disposals, d);
        Arrays.sort(disposed);
        System.out.printf("checkpoint write of a 4-tap record (%d each, same run): with fsync p50 %.3f ms p99 %.3f ms;"
                        + " without fsync p50 %.3f ms p99 %.3f ms; the replaced content's unlink, after the reply: p50"
                        + " %.3f ms p99 %.3f ms (%d); load1 %s%n", n, durable[n / 2] / 1e6,
                durable[(int) (n * 0.99)] / 1e6, unsynced[n / 2] / 1e6, unsynced[(int) (n * 0.99)] / 1e6,
                d == 0 ? 0 : disposed[d / 2] / 1e6, d == 0 ? 0 : disposed[(int) (d * 0.99)] / 1e6, d,
                TapBench.loadAverage().split(" ")[0]);
    }

    /** Runs the deferred unlinks, timing each into {@code into} from {@code at}; returns the next free slot. */
    private static int dispose(List<Runnable> deferred, long[] into, int at) {
        for (Runnable r : deferred) {
            long t0 = System.nanoTime();
            r.run();
            into[at++] = System.nanoTime() - t0;
        }
        deferred.clear();
        return at;
    }
}
