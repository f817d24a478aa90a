package io.vmhandler.bench;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.vmhandler.core.app.Daemon;
import io.vmhandler.core.app.DaemonConfig;
import io.vmhandler.cli.demo.EmbeddedApiServer;
import io.vmhandler.core.watch.VmiResources;
import io.vmhandler.proc.ProcFs;
import io.vmhandler.proc.ProcStat;
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
import java.util.stream.Collectors;

/**
 * The daemon with N VMIs on its node (default 500), against the embedded API server:
 * <ol>
 *   <li>separate {@code vmhandler run} processes started as the image starts them (AppCDS archive) and,
 *       as the baseline, without the archive: time from spawn to ready (informer synced, socket up),
 *       CPU time to ready, and RSS after the sync and after the churn;
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

            childProcesses(api, base, n);
            if (!Boolean.getBoolean("bench.childOnly")) {
                inProcessChurn(api, base, n);
            }
        } finally {
            new ProcessBuilder("rm", "-rf", base.toString()).start().waitFor();
        }
    }

    /** {@code -Dbench.childLog=FILE}: the child daemon's INFO log goes there, to see where its startup time goes. */
    private static final String CHILD_LOG = System.getProperty("bench.childLog");

    /**
     * Starts separate daemon processes as the image does (deploy/Containerfile: jars only, the AppCDS
     * archive deploy/cds/build-archive makes) and, alternating with them, the same without the archive
     * as the baseline; {@code -Dbench.starts=K} pairs (default 3), medians reported. The first start
     * with the archive is then churned and its RSS measured.
     * {@code -Dbench.dumpClassList=FILE}: only one start, without the archive, writing the classes it
     * loads to FILE (bin/cds-classlist).
     */
    private static void childProcesses(EmbeddedApiServer api, Path base, int n) throws Exception {
        String cp = jarClasspath();
        String dump = System.getProperty("bench.dumpClassList");
        if (dump != null) {
            Start s = startChild(api, base, n, cp, List.of("-XX:DumpLoadedClassList=" + dump));
            s.stop();
            System.out.printf("class list of a start to ready with %d VMIs written to %s%n", n, dump);
            return;
        }
        Path archive = base.resolve("vmhandler.jsa");
        long a0 = System.nanoTime();
        Process build = new ProcessBuilder(Path.of(System.getProperty("vmhandler.home", "."), "deploy", "cds",
                "build-archive").toString(), cp, archive.toString(), javaBin()).inheritIO().start();
        if (build.waitFor() != 0) {
            throw new IllegalStateException("deploy/cds/build-archive failed with exit " + build.exitValue());
        }
        System.out.printf("AppCDS archive for %d jars built in %d ms (deploy/cds/build-archive, once per image)%n",
                cp.split(":").length, (System.nanoTime() - a0) / 1_000_000);
        List<String> withCds = List.of("-XX:SharedArchiveFile=" + archive, "-Xshare:auto");
        int starts = Integer.getInteger("bench.starts", 3);
        List<Start> image = new ArrayList<>();
        List<Start> plain = new ArrayList<>();
        for (int i = 0; i < starts; i++) {
            Start s = startChild(api, base, n, cp, withCds);
            image.add(s);
            if (i == 0) {
                Thread.sleep(2000);
                System.out.printf("  RSS after sync (image, AppCDS): %d MiB%n", rssMiB(s.process.pid()));
                churn(api, n, "child");
                Thread.sleep(3000);
                System.out.printf("  RSS after %d updates (image, AppCDS): %d MiB%n", n, rssMiB(s.process.pid()));
            }
            s.stop();
            Start b = startChild(api, base, n, cp, List.of());
            plain.add(b);
            if (i == 0) {
                Thread.sleep(2000);
                System.out.printf("  RSS after sync (no archive): %d MiB%n", rssMiB(b.process.pid()));
            }
            b.stop();
        }
        System.out.printf("separate daemon process, spawn -> ready with %d VMIs, median of %d: image (AppCDS) %d ms, "
                        + "CPU %d ms; without the archive %d ms, CPU %d ms; ratio %.2f%n", n, starts,
                median(image, st -> st.readyMs), median(image, st -> st.cpuMs), median(plain, st -> st.readyMs),
                median(plain, st -> st.cpuMs), (double) median(plain, st -> st.readyMs) / median(image, st -> st.readyMs));
    }

    private record Start(Process process, long readyMs, long cpuMs) {
        void stop() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(20, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
            }
        }
    }

    private static Start startChild(EmbeddedApiServer api, Path base, int n, String cp, List<String> jvm)
            throws Exception {
        Path run = Files.createDirectories(base.resolve("child-run"));
        // the JVM flags the image and the DaemonSet use (deploy/Containerfile; MaxRAMPercentage=50 of the
        // 384Mi limit in deploy/base/daemonset.yaml = 192m)
        List<String> argv = new ArrayList<>(List.of(javaBin(), "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k",
                "-Xmx192m"));
        argv.addAll(jvm);
        argv.addAll(List.of("-Dvmhandler.log.level=" + (CHILD_LOG == null ? "WARN" : "INFO"), "-cp", cp,
                "io.vmhandler.cli.Main",
                "run", "--node", "bench-node", "--master", api.url(), "--socket", run.resolve("l.sock").toString(),
                "--metrics-port", "0", "--metrics-address", "127.0.0.1", "--checkpoint-dir",
                base.resolve("child-ckpt").toString(), "--selinux", "off"));
        long t0 = System.nanoTime();
        Process p = new ProcessBuilder(argv).redirectError(CHILD_LOG == null ? ProcessBuilder.Redirect.DISCARD
                : ProcessBuilder.Redirect.appendTo(new java.io.File(CHILD_LOG))).start();
        BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        String line = r.readLine();
        long readyMs = (System.nanoTime() - t0) / 1_000_000;
        if (line == null || !line.startsWith("vmhandler ready")) {
            p.destroyForcibly();
            throw new IllegalStateException("daemon did not start: " + line);
        }
        long cpuMs = cpuMs(p.pid());
        // CPU time is what the start costs; wall time also holds the wait for CPUs other work holds
        System.out.printf("separate daemon process (%s): ready %d ms after spawn (JVM start, %d VMIs synced, socket up);"
                        + " CPU time (user+sys, all threads) %d ms; load average %s%n",
                jvm.isEmpty() ? "no archive" : jvm.get(0).startsWith("-XX:Dump") ? "dumping its class list" : "image, AppCDS",
                readyMs, n, cpuMs, Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);
        return new Start(p, readyMs, cpuMs);
    }

    /** The jars of this JVM's classpath, sorted: CDS takes jar files only and checks their order. */
    private static String jarClasspath() {
        return Arrays.stream(System.getProperty("java.class.path").split(":")).filter(e -> e.endsWith(".jar"))
                .map(e -> Path.of(e).toAbsolutePath().toString()).sorted().collect(Collectors.joining(":"));
    }

    private static long median(List<Start> starts, java.util.function.ToLongFunction<Start> f) {
        long[] v = starts.stream().mapToLong(f).sorted().toArray();
        return v[v.length / 2];
    }

    private static String javaBin() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
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

    private static long cpuMs(long pid) throws Exception {
        ProcStat stat = ProcFs.host().stat((int) pid);
        // utime and stime are in clock ticks (USER_HZ = 100 on Linux)
        return (stat.utime() + stat.stime()) * 10;
    }

    private static long rssMiB(long pid) throws Exception {
        return ProcFs.host().status((int) pid).field("VmRSS").map(v -> Long.parseLong(v.replaceAll("\\D", "")) / 1024)
                .orElse(-1L);
    }
}
