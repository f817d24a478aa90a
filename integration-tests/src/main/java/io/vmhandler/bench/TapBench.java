package io.vmhandler.bench;

import static io.vmhandler.nativeio.LinuxConstants.*;

import io.vmhandler.nativeio.Fd;
import io.vmhandler.nativeio.NetNamespace;
import io.vmhandler.nativeio.Syscalls;
import io.vmhandler.net.IoctlTapDevices;
import io.vmhandler.net.TapDevices;
import io.vmhandler.net.TapResult;
import io.vmhandler.net.TapSpec;
import io.vmhandler.net.linux.LinkInfo;
import io.vmhandler.net.linux.Netlink;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * Tap creation cost, eight ways in the same run, for 1, 4 and 16 queues, all with the same owner,
 * group and MTU and the same warm-up and iteration count:
 * <ol>
 *   <li>vmhandler: {@link IoctlTapDevices#create} with a netns fd, timed on a netns worker at home, the way
 *       PrepareNetwork runs it on the worker that took the launcher call: setns, netlink socket, look-up, ioctls,
 *       persist, MTU (SIOCSIFMTU), read-back (TUNGETIFF, SIOCGIFINDEX), setns back;
 *   <li>vmhandler adopt: the same call again on each tap made in (1), i.e. an idempotent retry;
 *   <li>vmhandler, one entry: (1) with every create of the row inside one {@code TapDevices.within} entry of the
 *       netns (one setns and one netlink socket for all of them), as the C program enters once and keeps one socket
 *       for its whole run, and with {@link TapDevices.Expect#ABSENT}, as PrepareNetwork creates the taps after the
 *       first of a pod that it has just made: no look before TUNSETIFF (IFF_TUN_EXCL is the look); in the daemon this
 *       is the cost of each further tap of one PrepareNetwork;
 *   <li>one entry, look: (3) with {@link TapDevices.Expect#EXISTING}, the RTM_GETLINK look before TUNSETIFF that
 *       the first tap of a PrepareNetwork makes (and every tap before this hint existed);
 *   <li>path + hand-off: {@link IoctlTapDevices#create} with a netns path from the bench's main thread: (1) plus
 *       opening and checking the netns path and a hand-off to the worker and back per tap;
 *   <li>JVM raw ioctl: the C sequence below through the same JNR bindings, already inside the netns,
 *       no checks, no read-back;
 *   <li>C sequence: {@code bench/tapcreate.c} (built by bin/bench-tap), the syscall floor: one setns for
 *       the whole run, then per tap open, TUNSETIFF, TUNSETOWNER, TUNSETGROUP, SIOCSIFMTU, TUNSETPERSIST,
 *       close; timed inside the C process;
 *   <li>ip spawn: {@code ip -n NS tuntap add dev X mode tap [multi_queue] vnet_hdr user U group G}, one
 *       process per tap (the exec-based peers; it has no MTU option, so it sets none).
 * </ol>
 * Rows 1, 3, 4, 6 and 7 (those the acceptance compares) run interleaved, in {@code -Dbench.rounds} blocks each
 * (default 8; the order reversed every round), so that a slow stretch of a shared machine falls on all of them alike.
 * Ratios are to the C sequence's median ("x C"), and, for the interleaved rows, the median over the rounds of the
 * ratio of the row's block to the C block of the same round ("x C/round"). Deletion is not timed (it is RCU latency,
 * milliseconds whoever does it, docs/test-host.md A1) and runs in parallel between rows. The 1-minute load average is
 * printed on every row: on a shared machine it says how much the figures can be trusted.
 *
 * <p>Then a pod's 4 taps as PrepareNetwork makes them, one namespace entry per pod, against how each tap was made
 * before the first tap's MTU was carried to the others ({@link #podTaps}); {@code -Dbench.podOnly=true} runs it alone.
 *
 * <p>With {@code VMH_BENCH_STRACE=PREFIX} it also counts the syscalls of (1) for 1 and 4 queues with
 * {@code strace -f -c} ({@code PREFIX.q1}, {@code PREFIX.q4}, each with an idle window of the same length).
 *
 * <p>Usage: {@code bin/bench-tap [iterations] [--mtu=N]} as root; the path of the compiled C program
 * comes in the system property {@code bench.tapcreate}. Everything is made in network namespaces of its own,
 * which are deleted at the end (with every tap in them), also after a failure.
 */
public final class TapBench {
    private static final int UID = 107;
    /** {@code -Dbench.rounds=K}: the blocks each row compared with C is split into, interleaved (default 8). */
    private static final int ROUNDS = Integer.getInteger("bench.rounds", 8);

    public static void main(String[] args) throws Exception {
        int iterations = 100;
        int mtu = 1450;
        for (String a : args) {
            if (a.startsWith("--mtu=")) {
                mtu = Integer.parseInt(a.substring(6));
            } else {
                iterations = Integer.parseInt(a);
            }
        }
        int n = iterations;
        if (n < 10 * ROUNDS || ROUNDS < 1) {
            throw new IllegalArgumentException("iterations must be >= 10 per round (bench.rounds=" + ROUNDS + "), got " + n);
        }
        new TapSpec("x", 1, UID, UID, mtu); // validates the MTU with the API's own message
        String tapcreate = System.getProperty("bench.tapcreate");
        if (tapcreate == null || !Files.isExecutable(Path.of(tapcreate))) {
            throw new IllegalArgumentException("system property bench.tapcreate must name the compiled bench/tapcreate.c, got "
                    + tapcreate);
        }
        int warm = Math.max(5, n / 5);
        int m = mtu;
        String ns = "vmh-bench-" + ProcessHandle.current().pid();
        run("ip", "netns", "add", ns);
        String path = "/var/run/netns/" + ns;
        try (NetNamespace runner = new NetNamespace("bench", 1);
             Fd nsFd = NetNamespace.openNetns(path)) {
            IoctlTapDevices taps = new IoctlTapDevices(runner);
            // JIT warm-up of every in-JVM path before anything is measured: creates, then adopts of the same
            // taps, which run the netns hop and the netlink code (socket, request, parse) many times over
            // at ~35 us a call, so C2 has compiled them as it has in a daemon that has served for a while
            measure(0, 300, i -> taps.create(path, new TapSpec("vw" + i, 1 + i % 4, UID, UID, m)));
            measure(0, 20_000, i -> taps.create(path, new TapSpec("vw" + i % 300, 1 + i % 300 % 4, UID, UID, m)));
            runner.run(path, () -> measureRaw(0, 300, 2, m, "vw_r"));
            cleanup(runner, path);
            onWorker(runner, nsFd, () -> measure(0, 300, i -> taps.create(nsFd, new TapSpec("vw" + i, 1 + i % 4, UID, UID, m))));
            cleanup(runner, path);
            String strace = System.getenv("VMH_BENCH_STRACE");
            if (strace != null) {
                for (int q : new int[] {1, 4}) {
                    straceSelf(Path.of(strace + ".q" + q), () -> onWorker(runner, nsFd, () -> measure(0, n,
                            i -> created(taps.create(nsFd, new TapSpec("vt" + q + "_" + i, q, UID, UID, m))))));
                    cleanup(runner, path);
                }
            }
            System.out.printf("tap create, per tap, %d iterations after %d warm-up, mtu %d, owner/group %d; microseconds;"
                    + " vmhandler, 1 entry, 1 entry with look, JVM raw and C interleaved in %d rounds;"
                    + " load average at start %s%n", n, warm, mtu, UID, ROUNDS, loadAverage());
            System.out.printf("%-7s %-16s %9s %9s %9s %9s %9s %7s%n", "queues", "path", "median", "min", "p90", "x C",
                    "x C/round", "load1");
            for (int q : Boolean.getBoolean("bench.podOnly") ? new int[0] : new int[] {1, 4, 16}) {
                // The five rows compared with C run interleaved: ROUNDS blocks each, in the order A B C D E, then
                // E D C B A, ..., each block on an empty namespace. Run one after the other, a row that met a slow
                // stretch of this shared 2-CPU VM (the C row's median moved 75-120 us between runs of the same day)
                // decided the ratio; interleaved, the rows share the stretches.
                int nRows = 5;
                List<List<Long>> rows = new ArrayList<>();
                for (int j = 0; j < nRows; j++) {
                    rows.add(new ArrayList<>());
                }
                String[] loads = new String[nRows];
                long[][] blockMedians = new long[nRows][ROUNDS];
                for (int r = 0; r < ROUNDS; r++) {
                    int k = n / ROUNDS + (r == ROUNDS - 1 ? n % ROUNDS : 0);
                    // the first block of a row has the full warm-up; the later ones a short one, since the first
                    // creates after a cleanup (and in a new C process) run colder
                    int w = r == 0 ? warm : Math.max(5, warm / ROUNDS);
                    String tag = q + "_" + r + "_";
                    for (int j = 0; j < nRows; j++) {
                        int row = r % 2 == 0 ? j : nRows - 1 - j;
                        long[] t = switch (row) {
                            case 0 -> onWorker(runner, nsFd, () -> measure(w, k,
                                    i -> created(taps.create(nsFd, new TapSpec("va" + tag + i, q, UID, UID, m)))));
                            case 1 -> inOneEntry(runner, taps, nsFd, w, k, q, m, "ve" + tag, TapDevices.Expect.ABSENT);
                            case 2 -> inOneEntry(runner, taps, nsFd, w, k, q, m, "vl" + tag, TapDevices.Expect.EXISTING);
                            case 3 -> runner.run(path, () -> measureRaw(w, k, q, m, "vr" + tag));
                            default -> runC(tapcreate, path, q, w, k, m, "vc" + tag);
                        };
                        loads[row] = load1();
                        blockMedians[row][r] = median(t);
                        for (long v : t) {
                            rows.get(row).add(v);
                        }
                        cleanup(runner, path);
                    }
                }
                long[] api = toArray(rows.get(0));
                long[] entry = toArray(rows.get(1));
                long[] entryLook = toArray(rows.get(2));
                long[] raw = toArray(rows.get(3));
                long[] c = toArray(rows.get(4));
                // adopt: an idempotent retry on taps made (untimed) just before
                onWorker(runner, nsFd, () -> measure(0, warm + n,
                        i -> created(taps.create(nsFd, new TapSpec("vd" + q + "_" + i, q, UID, UID, m)))));
                long[] adopt = onWorker(runner, nsFd, () -> measure(warm, n,
                        i -> adopted(taps.create(nsFd, new TapSpec("vd" + q + "_" + i, q, UID, UID, m)))));
                String loadAdopt = load1();
                cleanup(runner, path);
                long[] handoff = measure(warm, n, i -> created(taps.create(path, new TapSpec("vh" + q + "_" + i, q, UID, UID, m))));
                String loadHandoff = load1();
                cleanup(runner, path);
                long[] spawn = measure(warm, n, i -> spawnTap(ns, "vs" + q + "_" + i, q));
                String loadSpawn = load1();
                cleanup(runner, path);
                long mc = median(c);
                print(q, "vmhandler", api, mc, paired(blockMedians, 0), loads[0]);
                print(q, "vmhandler adopt", adopt, mc, "-", loadAdopt);
                print(q, "vmhandler 1 entry", entry, mc, paired(blockMedians, 1), loads[1]);
                print(q, "1 entry, look", entryLook, mc, paired(blockMedians, 2), loads[2]);
                print(q, "path + hand-off", handoff, mc, "-", loadHandoff);
                print(q, "JVM raw ioctl", raw, mc, paired(blockMedians, 3), loads[3]);
                print(q, "C sequence", c, mc, paired(blockMedians, 4), loads[4]);
                print(q, "ip spawn", spawn, mc, "-", loadSpawn);
            }
            podTaps(runner, taps, ns, n, m);
            System.out.printf("load average at end %s%n", loadAverage());
        } finally {
            run("ip", "netns", "del", ns);
        }
    }

    private static final int POD_TAPS = 4;

    /**
     * A pod's {@value #POD_TAPS} taps (2 queues each) as PrepareNetwork makes them: one namespace entry per pod, each
     * pod of a block in a netns of its own with lo and an eth0 veth of MTU {@code mtu}, the taps' MTU left to it.
     * "each dumps" is how every tap was made before: the link dump that finds the pod's MTU, which is also the look.
     * "as PrepareNetwork" is {@link TapDevices#createAll}, which LauncherNetwork.prepare calls: the first tap so, the
     * others with the MTU it read and {@link TapDevices.Expect#ABSENT}.
     * The two rows alternate in {@code ROUNDS} blocks; "x first/round" is the median over the rounds of the ratio of
     * the blocks of each round.
     */
    private static void podTaps(NetNamespace runner, IoctlTapDevices taps, String ns, int n, int mtu) throws Exception {
        int pods = Math.max(10 * ROUNDS, n / POD_TAPS);
        int warm = Math.max(5, pods / 5);
        int slots = warm + pods / ROUNDS + pods % ROUNDS;
        List<TapSpec> specs = new ArrayList<>();
        for (int tap = 0; tap < POD_TAPS; tap++) {
            specs.add(new TapSpec("tap" + tap, 2, UID, UID, null));
        }
        // one netns per pod of a block, each with lo and an eth0 only, as a pod's: a pod's dumps read its own links,
        // and no deletion runs between two timed pods (a create right after deletions runs slower here)
        List<String> paths = new ArrayList<>();
        List<Fd> fds = new ArrayList<>();
        try {
            for (int i = 0; i < slots; i++) {
                String name = ns + "-p" + i;
                run("ip", "netns", "add", name);
                paths.add("/var/run/netns/" + name);
                run("ip", "-n", name, "link", "add", "eth0", "type", "veth", "peer", "name", "peer0");
                run("ip", "-n", name, "link", "set", "eth0", "mtu", Integer.toString(mtu), "up");
                fds.add(NetNamespace.openNetns(paths.get(i)));
            }
            List<List<Long>> rows = List.of(new ArrayList<>(), new ArrayList<>());
            long[][] blockMedians = new long[2][ROUNDS];
            for (int r = 0; r < ROUNDS; r++) {
                int k = pods / ROUNDS + (r == ROUNDS - 1 ? pods % ROUNDS : 0);
                int w = r == 0 ? warm : Math.max(5, warm / ROUNDS);
                for (int j = 0; j < 2; j++) {
                    int row = r % 2 == 0 ? j : 1 - j;
                    long[] t = new long[k];
                    for (int i = 0; i < w + k; i++) {
                        Fd pod = fds.get(i);
                        long dt = onWorker(runner, pod, () -> measure(0, 1, unused -> taps.within(pod, () -> {
                            if (row == 1) {
                                taps.createAll(pod, specs, (index, res) -> created(res));
                            } else {
                                for (TapSpec spec : specs) {
                                    created(taps.create(pod, spec, TapDevices.Expect.EXISTING));
                                }
                            }
                            return null;
                        })))[0];
                        if (i >= w) {
                            t[i - w] = dt;
                        }
                    }
                    for (int i = 0; i < w + k; i++) {
                        cleanup(runner, paths.get(i));
                    }
                    blockMedians[row][r] = median(t);
                    for (long v : t) {
                        rows.get(row).add(v);
                    }
                }
            }
            printPods(rows, blockMedians, mtu, pods, warm);
        } finally {
            for (Fd fd : fds) {
                fd.close();
            }
            // every one, even after one failed: each holds taps until it is deleted
            IOException failed = null;
            for (String path : paths) {
                try {
                    run("ip", "netns", "del", Path.of(path).getFileName().toString());
                } catch (IOException e) {
                    failed = failed == null ? e : failed;
                }
            }
            if (failed != null) {
                throw failed;
            }
        }
    }

    private static void printPods(List<List<Long>> rows, long[][] blockMedians, int mtu, int pods, int warm)
            throws IOException {
        System.out.printf("a pod's %d taps (2 queues each, pod MTU from eth0 at %d), per pod, %d pods after %d warm-up,"
                + " %d rounds; microseconds%n", POD_TAPS, mtu, pods, warm, ROUNDS);
        System.out.printf("%-24s %9s %9s %9s %13s %7s%n", "path", "median", "min", "p90", "x first/round", "load1");
        // paired() divides by the last row: here "before" is the baseline
        String now = paired(new long[][] {blockMedians[1], blockMedians[0]}, 0);
        String[] names = {"each dumps (before)", "as PrepareNetwork (now)"};
        for (int row = 0; row < 2; row++) {
            long[] v = toArray(rows.get(row));
            Arrays.sort(v);
            System.out.printf("%-24s %9.0f %9.0f %9.0f %13s %7s%n", names[row], v[v.length / 2] / 1e3, v[0] / 1e3,
                    v[(int) (v.length * 0.9)] / 1e3, row == 0 ? "1.00" : now, load1());
        }
    }

    /**
     * {@code k} creates after {@code w} untimed ones, all in one {@code TapDevices.within} entry of the netns on a
     * worker, each with {@code expect}.
     */
    private static long[] inOneEntry(NetNamespace runner, IoctlTapDevices taps, Fd nsFd, int w, int k, int q, int m,
            String prefix, TapDevices.Expect expect) throws Exception {
        return onWorker(runner, nsFd, () -> taps.within(nsFd, () -> {
            try {
                return measure(w, k, i -> created(taps.create(nsFd, new TapSpec(prefix + i, q, UID, UID, m), expect)));
            } catch (IOException | RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IOException(e);
            }
        }));
    }

    interface Op {
        void run(int i) throws Exception;
    }

    interface Timed {
        long[] run() throws Exception;
    }

    /**
     * Runs {@code timed} on a worker of {@code runner} at home, as the daemon creates taps: the worker that took the
     * launcher call enters the pod's netns itself for each create (setns in and out, a netlink socket), with the
     * netns fd opened once for the call. The one hand-off here is the bench's, once for all iterations.
     */
    private static long[] onWorker(NetNamespace runner, Fd ns, Timed timed) throws Exception {
        java.util.concurrent.CompletableFuture<long[]> r = new java.util.concurrent.CompletableFuture<>();
        runner.executor().execute(() -> {
            try {
                r.complete(timed.run());
            } catch (Throwable t) {
                r.completeExceptionally(t);
            }
        });
        return r.get();
    }

    /**
     * {@code strace -f -c} on this JVM over {@code timed} ({@code out}) and then over an idle window of the same
     * length ({@code out.idle}): per tap = (first - idle) / iterations. strace gets 2 s to attach to every thread.
     */
    private static void straceSelf(Path out, Timed timed) throws Exception {
        long self = ProcessHandle.current().pid();
        long nanos = 0;
        for (Path file : List.of(out, Path.of(out + ".idle"))) {
            Process st = new ProcessBuilder("strace", "-f", "-c", "-o", file.toString(), "-p", Long.toString(self))
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            Thread.sleep(2000);
            long t0 = System.nanoTime();
            if (file.equals(out)) {
                timed.run();
                nanos = System.nanoTime() - t0;
            } else {
                TimeUnit.NANOSECONDS.sleep(nanos);
            }
            run("kill", "-INT", Long.toString(st.pid()));
            st.waitFor();
            System.out.printf("strace -f -c of this JVM over %.2f s: %s%n", nanos / 1e9, file);
        }
    }

    private static void created(TapResult r) {
        if (r.outcome() != TapResult.Outcome.CREATED) {
            throw new IllegalStateException("expected a new tap, got " + r.outcome());
        }
    }

    private static void adopted(TapResult r) {
        if (r.outcome() != TapResult.Outcome.ADOPTED) {
            throw new IllegalStateException("expected an adopted tap, got " + r.outcome());
        }
    }

    private static long[] measure(int warm, int n, Op op) throws Exception {
        long[] t = new long[n];
        for (int i = 0; i < warm + n; i++) {
            long t0 = System.nanoTime();
            op.run(i);
            long dt = System.nanoTime() - t0;
            if (i >= warm) {
                t[i - warm] = dt;
            }
        }
        return t;
    }

    /** Runs inside the netns on a worker, like the C program after its setns. */
    private static long[] measureRaw(int warm, int n, int q, int mtu, String prefix) throws IOException {
        long[] t = new long[n];
        try (Fd ctl = Syscalls.socket(AF_INET, SOCK_DGRAM, 0, "bench SIOCSIFMTU socket")) {
            for (int i = 0; i < warm + n; i++) {
                String name = prefix + i;
                long t0 = System.nanoTime();
                rawCreate(ctl, name, q, mtu);
                long dt = System.nanoTime() - t0;
                if (i >= warm) {
                    t[i - warm] = dt;
                }
            }
        }
        return t;
    }

    /** The C program's sequence: open, TUNSETIFF, TUNSETOWNER, TUNSETGROUP, SIOCSIFMTU, TUNSETPERSIST, close. */
    private static void rawCreate(Fd ctl, String name, int q, int mtu) throws IOException {
        short flags = (short) (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_TUN_EXCL | (q > 1 ? IFF_MULTI_QUEUE : 0));
        byte[] ifr = new byte[IFREQ_SIZE];
        byte[] nb = name.getBytes(StandardCharsets.UTF_8);
        System.arraycopy(nb, 0, ifr, 0, nb.length);
        ifr[16] = (byte) flags;
        ifr[17] = (byte) (flags >> 8);
        try (Fd fd = Syscalls.open("/dev/net/tun", O_RDWR)) {
            Syscalls.ioctl(fd, TUNSETIFF, ifr.clone(), "TUNSETIFF", name);
            Syscalls.ioctl(fd, TUNSETOWNER, UID, "TUNSETOWNER", name);
            Syscalls.ioctl(fd, TUNSETGROUP, UID, "TUNSETGROUP", name);
            // struct ifreq: ifr_mtu is the int at offset 16 (<net/if.h>), native (little-endian) order
            for (int k = 0; k < 4; k++) {
                ifr[16 + k] = (byte) (mtu >> (8 * k));
            }
            Syscalls.ioctl(ctl, SIOCSIFMTU, ifr, "SIOCSIFMTU", name);
            Syscalls.ioctl(fd, TUNSETPERSIST, 1L, "TUNSETPERSIST", name);
        }
    }

    /** The C floor: per-tap nanoseconds, one per line; the program deletes its own taps before it exits. */
    private static long[] runC(String exe, String nsPath, int q, int warm, int n, int mtu, String prefix) throws Exception {
        Process p = new ProcessBuilder(exe, nsPath, Integer.toString(q), Integer.toString(warm), Integer.toString(n),
                Integer.toString(mtu), Integer.toString(UID), Integer.toString(UID), prefix)
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IOException(exe + " failed with exit " + p.exitValue());
        }
        long[] t = out.lines().mapToLong(Long::parseLong).toArray();
        if (t.length != n) {
            throw new IOException(exe + " printed " + t.length + " timings, expected " + n);
        }
        return t;
    }

    private static void spawnTap(String ns, String name, int q) throws Exception {
        List<String> argv = new ArrayList<>(List.of("ip", "-n", ns, "tuntap", "add", "dev", name, "mode", "tap"));
        if (q > 1) {
            argv.add("multi_queue");
        }
        argv.addAll(List.of("vnet_hdr", "user", Integer.toString(UID), "group", Integer.toString(UID)));
        run(argv.toArray(String[]::new));
    }

    /** Deletes every tap in the namespace, 16 at a time: deletion is RCU latency, not CPU. */
    private static void cleanup(NetNamespace runner, String path) throws Exception {
        List<String> names = runner.run(path, () -> {
            try (Netlink nl = Netlink.open()) {
                return nl.links().stream().filter(LinkInfo::isTap).map(LinkInfo::name).toList();
            }
        });
        ExecutorService pool = Executors.newFixedThreadPool(16);
        try (NetNamespace deleters = new NetNamespace("bench-del", 16)) {
            IoctlTapDevices del = new IoctlTapDevices(deleters);
            List<Future<Boolean>> fs = new ArrayList<>();
            for (String name : names) {
                fs.add(pool.submit(() -> del.delete(path, name)));
            }
            for (Future<Boolean> f : fs) {
                f.get();
            }
        } finally {
            pool.shutdown();
            pool.awaitTermination(1, TimeUnit.MINUTES);
        }
    }

    private static long[] toArray(List<Long> v) {
        return v.stream().mapToLong(Long::longValue).toArray();
    }

    private static long median(long[] t) {
        long[] s = t.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }

    private static void print(int q, String what, long[] t, long cMedian, String paired, String load) {
        long[] s = t.clone();
        Arrays.sort(s);
        System.out.printf("%-7d %-16s %9.0f %9.0f %9.0f %9.2f %9s %7s%n", q, what, s[s.length / 2] / 1e3, s[0] / 1e3,
                s[(int) (s.length * 0.9)] / 1e3, (double) s[s.length / 2] / cMedian, paired, load);
    }

    /**
     * "x C/round": the median, over the rounds, of the row's block median over the C block median of the same round.
     * A slow stretch of the machine that outlasts a round raises both blocks of the pair, so the ratio of each pair
     * depends less on when the stretch came than the ratio of the medians over all rounds does.
     */
    private static String paired(long[][] blockMedians, int row) {
        int cRow = blockMedians.length - 1;
        double[] ratios = new double[blockMedians[row].length];
        for (int r = 0; r < ratios.length; r++) {
            ratios[r] = (double) blockMedians[row][r] / blockMedians[cRow][r];
        }
        Arrays.sort(ratios);
        return String.format("%.2f", ratios[ratios.length / 2]);
    }

    static String loadAverage() throws IOException {
        String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
        return f[0] + " " + f[1] + " " + f[2];
    }

    private static String load1() throws IOException {
        return loadAverage().split(" ")[0];
    }

    private static void run(String... argv) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", argv) + ": " + new String(out, StandardCharsets.UTF_8));
        }
    }
}
