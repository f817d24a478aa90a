package io.vmhandler.bench;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.vmhandler.core.app.Daemon;
import io.vmhandler.core.app.DaemonConfig;
import io.vmhandler.core.watch.EmbeddedApiServer;
import io.vmhandler.core.watch.VmiResources;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The daemon with N VMIs on its node (default 500), against the embedded API server:
 * <ol>
 *   <li>a separate {@code vmhandler run} process: time from spawn to ready (informer synced, socket
 *       up) and its RSS after the sync and after the churn;
 *   <li>in this JVM: every VMI edited once (an annotation, like a controller's status churn); the
 *       latency from the API write returning to the reconciler having put the new version in the
 *       directory, p50/p99.
 * </ol>
 * Usage: {@code bin/bench-daemon [vmis]} as root.
 */
public final class DaemonBench {
    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 500;
        Path base = Files.createTempDirectory("vmh-dbench-");
        try (EmbeddedApiServer api = EmbeddedApiServer.start()) {
            Path yaml = base.resolve("vmi.yaml");
            long c0 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                Files.writeString(yaml, """
                        apiVersion: kubevirt.io/v1
                        kind: VirtualMachineInstance
                        metadata: {name: vm-%d, namespace: default, labels: {}}
                        spec:
                          domain:
                            cpu: {cores: 2}
                            memory: {guest: 1Gi}
                            devices: {networkInterfaceMultiqueue: true, interfaces: [{name: default, masquerade: {}}]}
                          networks: [{name: default, pod: {}}]
                        """.formatted(i));
                api.createScheduledVmi(yaml, "bench-node", UUID.randomUUID().toString());
            }
            System.out.printf("%d VMIs created in the embedded API in %d ms%n", n, (System.nanoTime() - c0) / 1_000_000);

            childProcess(api, base, n);
            inProcessChurn(api, base, n);
        } finally {
            new ProcessBuilder("rm", "-rf", base.toString()).start().waitFor();
        }
    }

    private static void childProcess(EmbeddedApiServer api, Path base, int n) throws Exception {
        Path run = Files.createDirectories(base.resolve("child-run"));
        // the JVM flags the image and the DaemonSet use (deploy/Containerfile; MaxRAMPercentage=50 of the
        // 384Mi limit in deploy/base/daemonset.yaml = 192m)
        List<String> argv = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k", "-Xmx192m",
                "-Dvmhandler.log.level=WARN", "-cp", System.getProperty("java.class.path"), "io.vmhandler.core.app.Main",
                "run", "--node", "bench-node", "--master", api.url(), "--socket", run.resolve("l.sock").toString(),
                "--metrics-port", "0", "--metrics-address", "127.0.0.1", "--checkpoint-dir",
                base.resolve("child-ckpt").toString(), "--selinux", "off");
        long t0 = System.nanoTime();
        Process p = new ProcessBuilder(argv).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try {
            BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            String line = r.readLine();
            long readyMs = (System.nanoTime() - t0) / 1_000_000;
            if (line == null || !line.startsWith("vmhandler ready")) {
                throw new IllegalStateException("daemon did not start: " + line);
            }
            System.out.printf("separate daemon process: ready %d ms after spawn (JVM start, %d VMIs synced, socket up)%n",
                    readyMs, n);
            Thread.sleep(2000);
            System.out.printf("  RSS after sync: %d MiB%n", rssMiB(p.pid()));
            churn(api, n, "child");
            Thread.sleep(3000);
            System.out.printf("  RSS after %d updates: %d MiB%n", n, rssMiB(p.pid()));
        } finally {
            p.destroy();
            p.waitFor(20, TimeUnit.SECONDS);
            p.destroyForcibly();
        }
    }

    private static void inProcessChurn(EmbeddedApiServer api, Path base, int n) throws Exception {
        Path run = Files.createDirectories(base.resolve("run"));
        Map<String, Long> writes = new ConcurrentHashMap<>();
        List<Long> latencies = java.util.Collections.synchronizedList(new ArrayList<>());
        try (Daemon d = new Daemon(DaemonConfig.standalone("bench-node", null, run.resolve("l.sock"),
                base.resolve("ckpt")).withMaster(api.url()).withMetricsPort(-1))) {
            long t0 = System.nanoTime();
            d.start();
            System.out.printf("in-process daemon: ready in %d ms with %d VMIs%n", (System.nanoTime() - t0) / 1_000_000,
                    d.directory().size());
            d.directory().addListener(key -> {
                Long w = writes.remove(key);
                if (w != null) {
                    latencies.add(System.nanoTime() - w);
                }
            });
            for (int round = 0; round < 2; round++) { // round 0 warms the JIT, round 1 is measured
                latencies.clear();
                writes.clear();
                long c0 = System.nanoTime();
                churn(api, n, "r" + round, writes);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
                while (latencies.size() < n && System.nanoTime() < deadline) {
                    Thread.sleep(20);
                }
                if (round == 1) {
                    long[] l = latencies.stream().mapToLong(Long::longValue).toArray();
                    Arrays.sort(l);
                    System.out.printf("  %d VMI updates, API write -> reconciled: p50 %.1f ms, p99 %.1f ms, max %.1f ms;"
                            + " %d/%d done in %.1f s%n", n, l[l.length / 2] / 1e6, l[(int) (l.length * 0.99)] / 1e6,
                            l[l.length - 1] / 1e6, l.length, n, (System.nanoTime() - c0) / 1e9);
                }
            }
        }
    }

    private static void churn(EmbeddedApiServer api, int n, String tag) {
        churn(api, n, tag, null);
    }

    private static void churn(EmbeddedApiServer api, int n, String tag, Map<String, Long> writes) {
        var vmis = api.client().genericKubernetesResources(VmiResources.CONTEXT).inNamespace("default");
        for (int i = 0; i < n; i++) {
            String name = "vm-" + i;
            // stamped before the write: the watch event can reach the daemon before edit() returns
            if (writes != null) {
                writes.put("default/" + name, System.nanoTime());
            }
            GenericKubernetesResource edited = vmis.withName(name).edit(r -> {
                r.getMetadata().getAnnotations().put("bench/churn", tag);
                return r;
            });
            if (edited == null && writes != null) {
                writes.remove("default/" + name);
            }
        }
    }

    private static long rssMiB(long pid) throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("\\D", "")) / 1024;
            }
        }
        return -1;
    }
}
