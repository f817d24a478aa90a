package io.vmhandler.it;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.vmhandler.grpc.client.LauncherClient;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Runs inside a fake pod as its launcher (one process, so every call carries the same SO_PEERCRED pid):
 * {@code rounds} rounds of 4 to 8 concurrent PrepareNetwork and Release calls, released together by a latch,
 * then a look at the pod's tap with {@code ip -d link} (this process is in the pod's netns). Prints one
 * {@code code NAME COUNT} line per gRPC code, one {@code bad-round ...} line per round whose tap was neither
 * complete (persist, vnet_hdr, owner and group 107, multi_queue as planned) nor absent, or whose outcome contradicts an
 * all-PrepareNetwork or all-Release round, and {@code done}. Usage: socket rounds seed queues.
 */
public final class PodCallRounds {
    private PodCallRounds() {}

    public static void main(String[] args) throws Exception {
        Path socket = Path.of(args[0]);
        int rounds = Integer.parseInt(args[1]);
        long seed = Long.parseLong(args[2]);
        int queues = Integer.parseInt(args[3]);
        Random rnd = new Random(seed);
        Map<String, Integer> codes = new TreeMap<>();
        List<String> bad = new ArrayList<>();
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try (LauncherClient client = LauncherClient.connect(socket, Duration.ofSeconds(30))) {
            for (int round = 0; round < rounds; round++) {
                int n = 4 + rnd.nextInt(5);
                boolean[] prepare = new boolean[n];
                int prepares = 0;
                for (int i = 0; i < n; i++) {
                    prepare[i] = rnd.nextBoolean();
                    prepares += prepare[i] ? 1 : 0;
                }
                CountDownLatch go = new CountDownLatch(1);
                List<Future<String>> calls = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    boolean p = prepare[i];
                    calls.add(pool.submit(() -> {
                        go.await();
                        try {
                            if (p) {
                                client.prepareNetwork();
                            } else {
                                client.release();
                            }
                            return "OK";
                        } catch (StatusRuntimeException e) {
                            Status s = e.getStatus();
                            synchronized (bad) {
                                if (bad.size() < 20) {
                                    bad.add("call " + (p ? "PrepareNetwork" : "Release") + " " + s.getCode() + ": "
                                            + s.getDescription());
                                }
                            }
                            return s.getCode().name();
                        }
                    }));
                }
                go.countDown();
                for (Future<String> f : calls) {
                    codes.merge(f.get(), 1, Integer::sum);
                }
                String tap = tap();
                boolean absent = tap.isEmpty();
                boolean complete = !absent && tap.contains("tun type tap") && tap.contains("persist on") && tap.contains("vnet_hdr on")
                        && tap.contains("user 107") && tap.contains("group 107")
                        && (queues > 1) == tap.contains("multi_queue");
                if (!absent && !complete) {
                    bad.add("bad-round " + round + ": a half-made tap: " + tap.replace('\n', ' '));
                } else if (prepares == n && absent) {
                    bad.add("bad-round " + round + ": only PrepareNetwork calls, no tap");
                } else if (prepares == 0 && !absent) {
                    bad.add("bad-round " + round + ": only Release calls, a tap is left");
                }
            }
        } finally {
            pool.shutdownNow();
        }
        codes.forEach((k, v) -> System.out.println("code " + k + " " + v));
        bad.forEach(System.out::println);
        System.out.println("done");
    }

    /** {@code ip -d link show tap0} in this process's netns; empty when there is no tap0. */
    private static String tap() throws IOException, InterruptedException {
        Process p = new ProcessBuilder("ip", "-d", "link", "show", "tap0").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return p.waitFor() == 0 ? out : "";
    }
}
