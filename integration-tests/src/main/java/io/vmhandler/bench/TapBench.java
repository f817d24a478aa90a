package io.vmhandler.bench;

import static io.vmhandler.nativeio.LinuxConstants.*;

import io.vmhandler.nativeio.Fd;
import io.vmhandler.nativeio.NetNamespace;
import io.vmhandler.nativeio.Syscalls;
import io.vmhandler.net.IoctlTapDevices;
import io.vmhandler.net.TapSpec;
import io.vmhandler.net.linux.LinkInfo;
import io.vmhandler.net.linux.Netlink;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * Tap creation cost, three ways in the same run, for 1, 4 and 16 queues:
 * <ol>
 *   <li>vmhandler: {@link IoctlTapDevices#create} with a netns path, i.e. the real API: open and check
 *       the netns, hand off to a netns worker, setns, rtnetlink checks, ioctls, persist, setns back;
 *   <li>raw ioctl: the bare syscall sequence of docs/test-host.md A1 (Q x {open, TUNSETIFF}, TUNSETOWNER,
 *       TUNSETGROUP, TUNSETPERSIST, close), already inside the netns, no checks;
 *   <li>spawn: {@code ip -n NS tuntap add dev X mode tap [multi_queue] vnet_hdr user 107 group 107},
 *       one process per tap (the exec-based peers).
 * </ol>
 * Deletion is not timed (it is ~16 ms of kernel RCU work whoever does it, docs/test-host.md A1) and runs
 * in parallel between rounds. Usage: {@code bin/bench-tap [iterations]} as root.
 */
public final class TapBench {
    private static final int UID = 107;

    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 100;
        int warm = Math.max(5, n / 5);
        String ns = "vmh-bench-" + ProcessHandle.current().pid();
        run("ip", "netns", "add", ns);
        String path = "/var/run/netns/" + ns;
        try (NetNamespace runner = new NetNamespace("bench", 1)) {
            IoctlTapDevices taps = new IoctlTapDevices(runner);
            // JIT warm-up of every path before anything is measured
            measure(0, 200, i -> taps.create(path, new TapSpec("vw" + i, 1 + i % 4, UID, UID, 1500)));
            runner.run(path, () -> measureRaw(0, 200, 2));
            cleanup(runner, path);
            System.out.printf("tap create, per tap, %d iterations after %d warm-up; microseconds%n", n, warm);
            System.out.printf("%-7s %-10s %9s %9s %9s   %s%n", "queues", "path", "median", "min", "p90", "ratio");
            for (int q : new int[] {1, 4, 16}) {
                long[] api = measure(warm, n, i -> taps.create(path, new TapSpec("va" + q + "_" + i, q, UID, UID, 1500)));
                cleanup(runner, path);
                long[] raw = runner.run(path, () -> measureRaw(warm, n, q));
                cleanup(runner, path);
                long[] spawn = measure(warm, n, i -> spawnTap(ns, "vs" + q + "_" + i, q));
                cleanup(runner, path);
                long mApi = median(api);
                long mRaw = median(raw);
                long mSpawn = median(spawn);
                print(q, "vmhandler", api, "");
                print(q, "raw ioctl", raw, String.format("vmhandler/raw = %.2f", (double) mApi / mRaw));
                print(q, "ip spawn", spawn, String.format("spawn/vmhandler = %.1fx", (double) mSpawn / mApi));
            }
        } finally {
            run("ip", "netns", "del", ns);
        }
    }

    interface Op {
        void run(int i) throws Exception;
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

    private static long[] measureRaw(int warm, int n, int q) throws IOException {
        long[] t = new long[n];
        for (int i = 0; i < warm + n; i++) {
            String name = "vr" + q + "_" + i;
            long t0 = System.nanoTime();
            rawCreate(name, q);
            long dt = System.nanoTime() - t0;
            if (i >= warm) {
                t[i - warm] = dt;
            }
        }
        return t;
    }

    private static void rawCreate(String name, int q) throws IOException {
        short flags = (short) (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (q > 1 ? IFF_MULTI_QUEUE : 0));
        byte[] ifr = new byte[IFREQ_SIZE];
        byte[] nb = name.getBytes(StandardCharsets.UTF_8);
        System.arraycopy(nb, 0, ifr, 0, nb.length);
        ifr[16] = (byte) flags;
        ifr[17] = (byte) (flags >> 8);
        List<Fd> fds = new ArrayList<>();
        try {
            for (int k = 0; k < q; k++) {
                Fd fd = Syscalls.open("/dev/net/tun", O_RDWR);
                fds.add(fd);
                Syscalls.ioctl(fd, TUNSETIFF, ifr.clone(), "TUNSETIFF", name);
            }
            Syscalls.ioctl(fds.get(0), TUNSETOWNER, UID, "TUNSETOWNER", name);
            Syscalls.ioctl(fds.get(0), TUNSETGROUP, UID, "TUNSETGROUP", name);
            Syscalls.ioctl(fds.get(0), TUNSETPERSIST, 1L, "TUNSETPERSIST", name);
        } finally {
            fds.forEach(Fd::close);
        }
    }

    private static void spawnTap(String ns, String name, int q) throws Exception {
        List<String> argv = new ArrayList<>(List.of("ip", "-n", ns, "tuntap", "add", "dev", name, "mode", "tap"));
        if (q > 1) {
            argv.add("multi_queue");
        }
        argv.addAll(List.of("vnet_hdr", "user", "107", "group", "107"));
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

    private static long median(long[] t) {
        long[] s = t.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }

    private static void print(int q, String what, long[] t, String ratio) {
        long[] s = t.clone();
        Arrays.sort(s);
        System.out.printf("%-7d %-10s %9.0f %9.0f %9.0f   %s%n", q, what, s[s.length / 2] / 1e3, s[0] / 1e3,
                s[(int) (s.length * 0.9)] / 1e3, ratio);
    }

    private static void run(String... argv) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", argv) + ": " + new String(out, StandardCharsets.UTF_8));
        }
    }
}
