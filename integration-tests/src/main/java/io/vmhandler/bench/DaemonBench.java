package io.vmhandler.bench;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.vmhandler.core.app.Daemon;
import io.vmhandler.core.app.DaemonConfig;
import io.vmhandler.cli.demo.EmbeddedApiServer;
import io.vmhandler.core.model.VmiDocument;
import io.vmhandler.core.watch.VmiResources;
import io.vmhandler.proc.ProcFs;
import io.vmhandler.proc.ProcStat;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The daemon with N VMIs on its node (default 500), against the embedded API server:
 * <ol>
 *   <li>separate {@code vmhandler run} processes started as the image starts them (its JVM flags, read from the
 *       deployment, and its AppCDS archive) and, as the baseline, without the archive: time from spawn to ready
 *       (informer synced, socket up) and where it went, CPU time to ready, and RSS after the sync and after
 *       every VMI was updated once;
 *   <li>in one JVM with the image's JVM flags (a new one unless {@code -Dbench.inProcessJvm=this}), the daemon, the
 *       embedded API server and the churning client: every VMI edited once per round (an annotation, like a
 *       controller's status churn); the latency from the write being sent to the reconciler having put the new
 *       version in the directory, split into API server, watch and daemon time, with that JVM's GC pauses and JIT
 *       time per round and the writes whose span held a collection apart.
 * </ol>
 * Every figure is the median of {@code -Dbench.runs} (default 3) runs.
 * Usage: {@code bin/bench-daemon [vmis]} as root.
 */
public final class DaemonBench {
    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 500;
        Path base = Files.createTempDirectory("vmh-dbench-");
        boolean inProcess = !Boolean.getBoolean("bench.childOnly");
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
            listFloor(api, n);

            // -Dbench.inProcessOnly=true: the reconcile latency part alone (quick runs of it)
            if (!Boolean.getBoolean("bench.inProcessOnly")) {
                childProcesses(api, base, n);
            }
            if (inProcess && IN_THIS_JVM) {
                inProcessChurn(api, base, n);
            }
        } finally {
            new ProcessBuilder("rm", "-rf", base.toString()).start().waitFor();
        }
        if (inProcess && !IN_THIS_JVM) {
            // after this JVM's API server is closed: the new JVM makes its own, with the same n VMIs
            inProcessInDeploymentJvm(n);
        }
    }

    /**
     * {@code -Dbench.inProcessJvm=this}: the in-process part runs in this JVM, with whatever flags it was started
     * with. By default it runs in a new JVM with the image's JVM flags (deploy/Containerfile's ENTRYPOINT, minus
     * {@code -Dbench.withoutFlags}), because the daemon measured there must run as deployed: a JVM on default
     * flags runs C2 (tiered), and with the daemon, fabric8's mock server, vert.x, netty and the JDK HTTP client in
     * one process the JIT compiled 1.1-2.8 s per 2-3 s churn round after 1 or 5 warm-up rounds, still 0.1-0.4 s
     * after 20 (CompilationMXBean, printed per round), on a 2-CPU machine: CPU the deployed daemon, C1 only, does
     * not give to a compiler once it is warm (5-20 ms per round with the image's flags). Not the pod's memory limit ({@code -XX:MaxRAM}, JAVA_TOOL_OPTIONS)
     * nor the image's absolute heap sizes ({@link DeploymentJvm#imageWithoutHeapSizes}): the heap here also holds the
     * mock API server's store and its per-request garbage. With the image's {@code -Xms24m} this JVM made 21-23
     * collections per round of 500 updates (108-162 ms) instead of 3-4, and the round's slowest write took 64-71 ms.
     */
    private static final boolean IN_THIS_JVM = "this".equals(System.getProperty("bench.inProcessJvm"));

    private static void inProcessInDeploymentJvm(int n) throws Exception {
        List<String> argv = new ArrayList<>(List.of(javaBin()));
        argv.addAll(withoutFlags(DeploymentJvm.ofRepository(), WITHOUT_FLAGS).imageWithoutHeapSizes());
        for (String name : System.getProperties().stringPropertyNames()) {
            if ((name.startsWith("bench.") || name.startsWith("vmhandler.")) && !name.equals("bench.inProcessJvm")
                    && !name.equals("bench.inProcessOnly")) {
                argv.add("-D" + name + "=" + System.getProperty(name));
            }
        }
        argv.addAll(List.of("-Dbench.inProcessOnly=true", "-Dbench.inProcessJvm=this", "-cp",
                System.getProperty("java.class.path"), DaemonBench.class.getName(), Integer.toString(n)));
        System.out.printf("in-process part in a new JVM with the image's flags: %s%n",
                argv.stream().filter(a -> a.startsWith("-XX") || a.startsWith("-X")).toList());
        Process p = new ProcessBuilder(argv).inheritIO().start();
        if (p.waitFor() != 0) {
            throw new IllegalStateException("the in-process bench JVM exited with " + p.exitValue() + ": " + argv);
        }
    }

    private static final int RUNS = Integer.getInteger("bench.runs", 3);
    /**
     * {@code -Dbench.warmupRounds=K}: unmeasured churn rounds before the measured ones (default 2). The in-process JVM
     * holds the daemon, the mock API server and the churning client, all compiled by the image's one C1 thread: after
     * one warm-up round it still compiled for 79-83 ms during the first measured round (11-21 ms with two compiler
     * threads), which set that round's p99; after two, 11-12 ms.
     */
    private static final int WARMUP_ROUNDS = Integer.getInteger("bench.warmupRounds", 2);
    /**
     * {@code -Dbench.watcherOnly=true}: the in-process part without the daemon: the API server's own write to watch
     * event delivery, with one watcher (the bench's) instead of two.
     */
    private static final boolean WATCHER_ONLY = Boolean.getBoolean("bench.watcherOnly");

    /**
     * What the daemon's first list costs outside the daemon: the embedded API server answering the node's label
     * selector with {@code n} VMIs and this (warm) JVM's client parsing the answer. A daemon's "informerList" phase
     * cannot be shorter than this on the same machine; a real API server answers from its watch cache instead.
     */
    private static void listFloor(EmbeddedApiServer api, int n) throws Exception {
        List<Long> ms = new ArrayList<>();
        for (int i = 0; i < 5; i++) { // the first two warm this JVM's client
            long t0 = System.nanoTime();
            int got = api.client().genericKubernetesResources(VmiResources.CONTEXT).inAnyNamespace()
                    .withLabel(VmiResources.NODE_LABEL, "bench-node").list().getItems().size();
            if (got != n) {
                throw new IllegalStateException("listed " + got + " VMIs, created " + n);
            }
            if (i >= 2) {
                ms.add((System.nanoTime() - t0) / 1_000_000);
            }
        }
        System.out.printf("list of the node's %d VMIs from the embedded API (server + a warm client's parse): %s ms,"
                + " median %d ms; load average %s%n", n, ms, medianOf(ms), load());
    }
    /** {@code -Dbench.childJvm="FLAGS"}: more JVM flags for the separate daemon (e.g. -Xlog:class+load:file=F). */
    private static final List<String> CHILD_EXTRA = List.of(System.getProperty("bench.childJvm", "").trim().split("\\s+"))
            .stream().filter(f -> !f.isEmpty()).toList();
    /**
     * {@code -Dbench.withoutFlags=F1,F2}: the deployment's JVM flags minus these (exact match), e.g.
     * {@code -XX:TieredStopAtLevel=1,-XX:CICompilerCount=1} to measure the daemon with the full tiered compiler (C1
     * and C2; that JVM refuses a single compiler thread).
     */
    private static final List<String> WITHOUT_FLAGS = List.of(System.getProperty("bench.withoutFlags", "").split(","))
            .stream().map(String::trim).filter(f -> !f.isEmpty()).toList();

    private static DeploymentJvm withoutFlags(DeploymentJvm d, List<String> drop) {
        for (String f : drop) {
            if (!d.image().contains(f) && !d.toolOptions().contains(f)) {
                throw new IllegalArgumentException("-Dbench.withoutFlags: " + f + " is not a deployment flag: " + d.flags());
            }
        }
        return new DeploymentJvm(d.image().stream().filter(f -> !drop.contains(f)).toList(),
                d.toolOptions().stream().filter(f -> !drop.contains(f)).toList(), d.memoryLimitBytes());
    }

    /** {@code -Dbench.nmt=true}: the first image start runs with native memory tracking and prints its summary. */
    private static final boolean NMT = Boolean.getBoolean("bench.nmt");
    private static final Pattern PHASE = Pattern.compile("\\{\"startupMs\\.(\\w+)\":\"?(-?\\d+)\"?}");

    /**
     * Starts separate daemon processes as the image does: the JVM flags of deploy/Containerfile and the DaemonSet
     * ({@link DeploymentJvm}), jars only, the AppCDS archive deploy/cds/build-archive makes; {@code -Dbench.runs=K}
     * times (default 3), each start synced, churned once ({@code n} updates) and measured, then stopped, and, as
     * the baseline, the same start without the archive. Medians reported.
     * {@code -Dbench.dumpClassList=FILE}: only one start, without the archive, writing the classes it loads to FILE
     * (bin/cds-classlist).
     */
    private static void childProcesses(EmbeddedApiServer api, Path base, int n) throws Exception {
        String cp = imageClasspath(base);
        DeploymentJvm deployment = withoutFlags(DeploymentJvm.ofRepository(), WITHOUT_FLAGS);
        System.out.printf("daemon JVM flags (deploy/Containerfile, deploy/base/daemonset.yaml%s): %s%n",
                WITHOUT_FLAGS.isEmpty() ? "" : ", without " + WITHOUT_FLAGS, deployment.flags());
        String dump = System.getProperty("bench.dumpClassList");
        if (dump != null) {
            List<String> jvm = new ArrayList<>(deployment.flags());
            jvm.add("-XX:DumpLoadedClassList=" + dump);
            Start s = startChild(api, base, n, cp, jvm, "dumping its class list", 0);
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
        if (!START_VARIANTS.isEmpty()) {
            startVariants(api, base, n, cp, deployment, archive);
            return;
        }
        List<Start> image = new ArrayList<>();
        List<Start> plain = new ArrayList<>();
        List<Long> rssSync = new ArrayList<>();
        List<Long> rssChurn = new ArrayList<>();
        for (int i = 0; i < RUNS; i++) {
            List<String> jvm = new ArrayList<>(deployment.flagsWithArchive(archive));
            if (NMT && i == 0) {
                jvm.add("-XX:NativeMemoryTracking=summary");
            }
            Start s = startChild(api, base, n, cp, jvm, "image, AppCDS", i);
            image.add(s);
            Thread.sleep(2000);
            rssSync.add(rssMiB(s.process.pid()));
            churn(api, n, "child" + i);
            Thread.sleep(3000);
            rssChurn.add(rssMiB(s.process.pid()));
            System.out.printf("  RSS (image, AppCDS): %d MiB after sync, %d MiB after %d updates; load average %s%n",
                    rssSync.get(i), rssChurn.get(i), n, load());
            if (NMT && i == 0) {
                System.out.println(DaemonProcess.run(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
                        Long.toString(s.process.pid()), "VM.native_memory", "summary"));
            }
            s.stop();
            Start b = startChild(api, base, n, cp, deployment.flags(), "no archive", i);
            plain.add(b);
            b.stop();
        }
        System.out.printf("separate daemon process with %d VMIs, median of %d: spawn -> ready image (AppCDS) %d ms, CPU %d ms;"
                        + " without the archive %d ms, CPU %d ms; RSS after sync %d MiB, after %d updates %d MiB; load average %s%n",
                n, RUNS, median(image, Start::readyMs), median(image, Start::cpuMs), median(plain, Start::readyMs),
                median(plain, Start::cpuMs), medianOf(rssSync), n, medianOf(rssChurn), load());
    }

    /**
     * {@code -Dbench.startVariants="FLAGS|FLAGS|..."}: only starts to ready, with the archive, one per variant and
     * round ({@code bench.runs} rounds, the order turned by one each round), each variant's flags after the image's
     * (an empty variant is the image as it is). Each start is stopped at ready. A flag's effect on the start is
     * smaller than this machine's spread from one start to the next; starts of the variants taken in turn see the
     * same stretches of it.
     */
    private static final List<String> START_VARIANTS = System.getProperty("bench.startVariants") == null ? List.of()
            : List.of(System.getProperty("bench.startVariants").split("\\|", -1)).stream().map(String::trim).toList();

    private static void startVariants(EmbeddedApiServer api, Path base, int n, String cp, DeploymentJvm deployment,
            Path archive) throws Exception {
        int v = START_VARIANTS.size();
        List<List<Start>> starts = new ArrayList<>();
        for (int i = 0; i < v; i++) {
            starts.add(new ArrayList<>());
        }
        for (int round = 0; round < RUNS; round++) {
            for (int k = 0; k < v; k++) {
                int i = (k + round) % v;
                List<String> jvm = new ArrayList<>(deployment.flagsWithArchive(archive));
                jvm.addAll(List.of(START_VARIANTS.get(i).split("\\s+")).stream().filter(f -> !f.isEmpty()).toList());
                Start s = startChild(api, base, n, cp, jvm, "variant " + i + " [" + START_VARIANTS.get(i) + "]", round);
                s.stop();
                starts.get(i).add(s);
            }
        }
        for (int i = 0; i < v; i++) {
            List<Start> ss = starts.get(i);
            System.out.printf("variant %d [%s]: ready median %d ms %s, CPU to ready median %d ms %s%n", i,
                    START_VARIANTS.get(i), median(ss, Start::readyMs), ss.stream().map(Start::readyMs).toList(),
                    median(ss, Start::cpuMs), ss.stream().map(Start::cpuMs).toList());
        }
    }

    private record Start(Process process, long readyMs, long cpuMs) {
        void stop() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(20, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
            }
        }
    }

    private static Start startChild(EmbeddedApiServer api, Path base, int n, String cp, List<String> jvm, String what,
            int run) throws Exception {
        Path dir = Files.createDirectories(base.resolve("child-run"));
        Path log = base.resolve("child-" + what.replaceAll("\\W+", "-") + "-" + run + ".log");
        List<String> argv = new ArrayList<>(List.of(javaBin()));
        argv.addAll(jvm);
        argv.addAll(CHILD_EXTRA);
        // the log level is the deployment's (INFO): the ready line carries the start's phases
        argv.addAll(List.of("-cp", cp, "io.vmhandler.cli.Main",
                "run", "--node", "bench-node", "--master", api.url(), "--socket", dir.resolve("l.sock").toString(),
                "--metrics-port", "0", "--metrics-address", "127.0.0.1", "--checkpoint-dir",
                base.resolve("child-ckpt").toString(), "--selinux", "off"));
        int requests0 = api.requestCount();
        long t0 = System.nanoTime();
        Process p = new ProcessBuilder(argv).redirectError(log.toFile()).start();
        BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        String line = r.readLine();
        // a JVM agent given in -Dbench.childJvm (a profiler) may print before the daemon does
        for (int i = 0; i < 10 && line != null && !line.startsWith("vmhandler"); i++) {
            System.out.println("  (the daemon's stdout before ready: " + line + ")");
            line = r.readLine();
        }
        long readyMs = (System.nanoTime() - t0) / 1_000_000;
        if (line == null || !line.startsWith("vmhandler ready")) {
            p.destroyForcibly();
            throw new IllegalStateException("daemon did not start: " + line + "; log " + log);
        }
        long cpuMs = cpuMs(p.pid());
        // the requests a start costs the API server (each a node's daemon sends when a DaemonSet rolls): the list and
        // the watch; a watch counts when it opens, so one opened just after ready may count or not
        int requests = api.requestCount() - requests0;
        // CPU time is what the start costs; wall time also holds the wait for CPUs other work holds
        System.out.printf("separate daemon process (%s): ready %d ms after spawn (JVM start, %d VMIs synced, socket up);"
                + " CPU time (user+sys, all threads) %d ms; API requests to ready %d; load average %s%n    %s%n", what,
                readyMs, n, cpuMs, requests, load(), phases(log, readyMs));
        return new Start(p, readyMs, cpuMs);
    }

    /**
     * The start's phases from the daemon's ready line (Daemon's startup timeline): before {@code Daemon.start()}
     * (JVM, class loading, CLI) is what the spawn-to-ready time leaves.
     */
    private static String phases(Path log, long readyMs) throws Exception {
        String ready = null;
        for (int i = 0; i < 50 && ready == null; i++) {
            ready = Files.readAllLines(log).stream().filter(l -> l.contains("\"ready: launcher API")).findFirst().orElse(null);
            if (ready == null) {
                Thread.sleep(10);
            }
        }
        if (ready == null) {
            return "(no ready line in " + log + ")";
        }
        StringBuilder out = new StringBuilder();
        long total = -1;
        for (Matcher m = PHASE.matcher(ready); m.find(); ) {
            if (m.group(1).equals("total")) {
                total = Long.parseLong(m.group(2));
            } else {
                out.append(' ').append(m.group(1)).append('=').append(m.group(2));
            }
        }
        return "phases (ms): beforeDaemonStart=" + (readyMs - total) + " daemonStart=" + total + " ->" + out;
    }

    /**
     * The image's classpath: its lib/ ({@link DeploymentJvm#imageJars}) laid out as links in one directory under
     * {@code base}, in the image's order. CDS takes jar files only and checks their paths and order. Until
     * 2026-12-07 this was the benchmark's own classpath, 122 jars against the image's 101 (the mock API server,
     * vert.x, BouncyCastle, JMH): the start opened and scanned jars the image does not have.
     */
    private static String imageClasspath(Path base) throws IOException {
        Path lib = Files.createDirectories(base.resolve("lib"));
        List<String> cp = new ArrayList<>();
        for (Path jar : DeploymentJvm.imageJars(DeploymentJvm.repositoryRoot())) {
            Path link = lib.resolve(jar.getFileName());
            Files.createSymbolicLink(link, jar.toAbsolutePath());
            cp.add(link.toString());
        }
        return String.join(":", cp);
    }

    private static long median(List<Start> starts, java.util.function.ToLongFunction<Start> f) {
        return medianOf(starts.stream().map(f::applyAsLong).toList());
    }

    private static long medianOf(List<Long> values) {
        long[] v = values.stream().mapToLong(Long::longValue).sorted().toArray();
        return v[v.length / 2];
    }

    private static double medianOfDoubles(List<Double> values) {
        double[] v = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return v[v.length / 2];
    }

    private static String load() throws Exception {
        return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
    }

    /** The java of the JVM running this, for the processes a bench or its test starts. */
    static String javaBin() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    /**
     * The in-process daemon, churned {@code bench.runs} times after a warm-up round. Each update is timed from
     * the write being sent to the reconciler having put the new version in the daemon's directory (end to end),
     * and split: the API round trip (write sent -> the client's patch returned), the watch (write sent -> the
     * event reached a second watcher the bench holds on the same API server, as the daemon's informer gets it),
     * after the watch (that event -> reconciled: the daemon's informer, queue and reconcile, approximately, since
     * the two watches are served separately), and the daemon's own work-queue histograms (queue wait, reconcile
     * run), which hold no API server time at all. {@code -Dbench.watcherOnly=true}: the same rounds without the
     * daemon ({@link #watcherOnly}).
     */
    private static void inProcessChurn(EmbeddedApiServer api, Path base, int n) throws Exception {
        Path run = Files.createDirectories(base.resolve("run"));
        Map<String, Long> writes = new ConcurrentHashMap<>();
        Map<String, Long> returned = new ConcurrentHashMap<>();
        Map<String, Long> seen = new ConcurrentHashMap<>();
        Map<String, Long> reconciled = new ConcurrentHashMap<>();
        String[] tag = {""};
        List<Double> p50s = new ArrayList<>();
        List<Double> p99s = new ArrayList<>();
        List<Double> maxes = new ArrayList<>();
        List<Double> afterWatchP99s = new ArrayList<>();
        List<Double> workP99s = new ArrayList<>();
        List<Double> watchP99s = new ArrayList<>();
        // try-with-resources skips a null resource (JLS 14.20.3): without the daemon only the watch is closed
        try (Daemon d = WATCHER_ONLY ? null : new Daemon(DaemonConfig.standalone("bench-node", null, run.resolve("l.sock"),
                base.resolve("ckpt")).withMaster(api.url()).withMetricsPort(-1));
             Watch w = api.client().genericKubernetesResources(VmiResources.CONTEXT).inNamespace("default")
                     .watch(new Watcher<GenericKubernetesResource>() {
                         @Override
                         public void eventReceived(Action action, GenericKubernetesResource r) {
                             Map<String, String> a = r.getMetadata().getAnnotations();
                             if (a != null && tag[0].equals(a.get("bench/churn"))) {
                                 String key = "default/" + r.getMetadata().getName();
                                 if (seen.putIfAbsent(key, System.nanoTime()) == null && WATCHER_ONLY) {
                                     GC_AT_RECONCILED.put(key, gcCount()); // no daemon: the event ends the span
                                 }
                             }
                         }

                         @Override
                         public void onClose(WatcherException cause) {
                         }
                     })) {
            if (WATCHER_ONLY) {
                watcherOnly(api, n, writes, returned, seen, tag, watchP99s);
                return;
            }
            System.out.printf("in-process JVM flags: %s%n", ManagementFactory.getRuntimeMXBean().getInputArguments()
                    .stream().filter(a -> a.startsWith("-X")).toList());
            long t0 = System.nanoTime();
            d.start();
            System.out.printf("in-process daemon: ready in %d ms with %d VMIs%n", (System.nanoTime() - t0) / 1_000_000,
                    d.directory().size());
            d.directory().addListener(key -> {
                if (writes.containsKey(key)) {
                    if (reconciled.putIfAbsent(key, System.nanoTime()) == null) {
                        GC_AT_RECONCILED.put(key, gcCount());
                    }
                }
            });
            PrometheusRegistry registry = d.metrics().registry();
            // rounds up to 0 warm the JIT and are not measured
            for (int round = 1 - WARMUP_ROUNDS; round <= RUNS; round++) {
                for (Map<String, Long> m : List.of(writes, returned, seen, reconciled, GC_AT_WRITE, GC_AT_RECONCILED)) {
                    m.clear();
                }
                tag[0] = "r" + round;
                RoundStart start = RoundStart.now(api);
                LoopTimes queue0 = LoopTimes.read(registry, QUEUE_SECONDS);
                LoopTimes work0 = LoopTimes.read(registry, WORK_SECONDS);
                long c0 = System.nanoTime();
                churn(api, n, tag[0], writes, returned);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
                while (reconciled.size() < writes.size() && System.nanoTime() < deadline) {
                    Thread.sleep(20);
                }
                Thread.sleep(200); // the last reconciles' histogram updates
                if (round <= 0) {
                    continue;
                }
                LoopTimes queue = LoopTimes.read(registry, QUEUE_SECONDS).since(queue0);
                LoopTimes work = LoopTimes.read(registry, WORK_SECONDS).since(work0);
                Percentiles e2e = Percentiles.of(writes, reconciled);
                Percentiles rtt = Percentiles.of(writes, returned);
                Percentiles watch = Percentiles.of(writes, seen);
                Percentiles afterWatch = Percentiles.of(seen, reconciled);
                GcSplit gcSplit = GcSplit.of(writes);
                p50s.add(e2e.p50());
                p99s.add(e2e.p99());
                maxes.add(e2e.max());
                afterWatchP99s.add(afterWatch.p99());
                watchP99s.add(watch.p99());
                workP99s.add(work.p99BoundMs());
                System.out.printf("  round %d: %d updates, %d/%d reconciled in %.1f s; load average %s%n"
                                + "    write sent -> reconciled (end to end)   %s%n"
                                + "    write sent -> patch returned (API RTT)  %s%n"
                                + "    write sent -> event at a 2nd watcher    %s%n"
                                + "    event at 2nd watcher -> reconciled      %s%n"
                                + "    daemon's own: queue wait mean %.2f ms, p99 <= %.1f ms; reconcile run mean %.2f ms,"
                                + " p99 <= %.1f ms (%d runs)%n"
                                + "    this JVM during the round: %d GC pauses, %d ms in all; JIT compiling %d ms%n"
                                + "    end to end, writes with a GC in their span  %s%n"
                                + "    end to end, writes without                  %s%n"
                                + "    CPU of this JVM's threads in the round (ms): %s%n"
                                + "    API requests per write (the churn's and the daemon's): %s%n",
                        round, n, reconciled.size(), writes.size(), (System.nanoTime() - c0) / 1e9, load(), e2e, rtt,
                        watch, afterWatch, queue.meanMs(), queue.p99BoundMs(), work.meanMs(), work.p99BoundMs(),
                        work.count(), gcCount() - start.gcs(), gcMillis() - start.gcMs(), jitMillis() - start.jitMs(),
                        Percentiles.of(gcSplit.with(), reconciled), Percentiles.of(gcSplit.without(), reconciled),
                        cpuSince(start.cpu()), start.requestsPerWrite(api, n));
            }
        }
        System.out.printf("in-process reconcile, median of %d rounds: end-to-end p50 %.1f ms, p99 %.1f ms, max %.1f ms;"
                        + " write to the event at a 2nd watcher p99 %.1f ms; after the watch p99 %.1f ms;"
                        + " daemon's reconcile run p99 <= %.1f ms; load average %s%n", RUNS,
                medianOfDoubles(p50s), medianOfDoubles(p99s), medianOfDoubles(maxes), medianOfDoubles(watchP99s),
                medianOfDoubles(afterWatchP99s), medianOfDoubles(workP99s), load());
    }

    /** The same churn rounds with no daemon: what the API server's write and watch delivery take on their own. */
    private static void watcherOnly(EmbeddedApiServer api, int n, Map<String, Long> writes, Map<String, Long> returned,
            Map<String, Long> seen, String[] tag, List<Double> watchP99s) throws Exception {
        for (int round = 1 - WARMUP_ROUNDS; round <= RUNS; round++) {
            for (Map<String, Long> m : List.of(writes, returned, seen, GC_AT_WRITE, GC_AT_RECONCILED)) {
                m.clear();
            }
            tag[0] = "w" + round;
            RoundStart start = RoundStart.now(api);
            long c0 = System.nanoTime();
            churn(api, n, tag[0], writes, returned);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (seen.size() < writes.size() && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            if (round <= 0) {
                continue;
            }
            Percentiles watch = Percentiles.of(writes, seen);
            watchP99s.add(watch.p99());
            GcSplit gcSplit = GcSplit.of(writes);
            System.out.printf("  round %d (no daemon): %d updates, %d/%d seen in %.1f s; load average %s%n"
                            + "    write sent -> patch returned (API RTT)  %s%n"
                            + "    write sent -> event at the watcher      %s%n"
                            + "    this JVM during the round: %d GC pauses, %d ms in all; JIT compiling %d ms%n"
                            + "    write -> event, with a GC in the span   %s%n"
                            + "    write -> event, without                 %s%n"
                            + "    CPU of this JVM's threads in the round (ms): %s%n"
                            + "    API requests per write: %s%n",
                    round, n, seen.size(), writes.size(), (System.nanoTime() - c0) / 1e9, load(),
                    Percentiles.of(writes, returned), watch, gcCount() - start.gcs(), gcMillis() - start.gcMs(),
                    jitMillis() - start.jitMs(),
                    Percentiles.of(gcSplit.with(), seen), Percentiles.of(gcSplit.without(), seen),
                    cpuSince(start.cpu()), start.requestsPerWrite(api, n));
        }
        System.out.printf("API server alone (no daemon), median of %d rounds: write to the event at the watcher p99 %.1f ms;"
                + " load average %s%n", RUNS, medianOfDoubles(watchP99s), load());
    }

    /** This JVM's collection count when a write was sent and when it was reconciled, per key. */
    private static final Map<String, Long> GC_AT_WRITE = new ConcurrentHashMap<>();
    private static final Map<String, Long> GC_AT_RECONCILED = new ConcurrentHashMap<>();

    /**
     * The round's writes (key -> sent) split by whether this JVM collected during their span, from the write sent to
     * the end stamp (reconciled, or the watch event with no daemon): the GC counts at the two differ.
     */
    private record GcSplit(Map<String, Long> with, Map<String, Long> without) {
        static GcSplit of(Map<String, Long> writes) {
            GcSplit split = new GcSplit(new HashMap<>(), new HashMap<>());
            writes.forEach((k, t) -> {
                Long at = GC_AT_WRITE.get(k);
                Long end = GC_AT_RECONCILED.get(k);
                if (at != null && end != null) {
                    (end > at ? split.with : split.without).put(k, t);
                }
            });
            return split;
        }
    }

    /** Collections so far, every collector of this JVM (young and full: both stop the application). */
    private static long gcCount() {
        long c = 0;
        for (GarbageCollectorMXBean b : ManagementFactory.getGarbageCollectorMXBeans()) {
            c += Math.max(0, b.getCollectionCount());
        }
        return c;
    }

    private static long gcMillis() {
        long ms = 0;
        for (GarbageCollectorMXBean b : ManagementFactory.getGarbageCollectorMXBeans()) {
            ms += Math.max(0, b.getCollectionTime());
        }
        return ms;
    }

    /**
     * CPU time (user + system) of this JVM's live threads, summed by name with the digits taken out (the pools of one
     * kind together: vert.x-eventloop-thread-N is the mock API server, vmi-worker-N the daemon's reconcilers,
     * JdkHttpClientFactory-N-pool-N-thread-N both clients' HTTP callbacks, the informer's and the bench's watcher).
     * The JVM's own threads (GC, JIT) have no Thread object: their time is in the GC and JIT figures.
     */
    private static Map<String, Long> threadCpuByGroup() {
        java.lang.management.ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        Map<String, Long> byGroup = new HashMap<>();
        for (java.lang.management.ThreadInfo t : mx.getThreadInfo(mx.getAllThreadIds())) {
            long ns = t == null ? -1 : mx.getThreadCpuTime(t.getThreadId());
            if (ns > 0) {
                byGroup.merge(t.getThreadName().replaceAll("\\d+", "N"), ns, Long::sum);
            }
        }
        return byGroup;
    }

    /** The groups' CPU since {@code before}, largest first, those under 20 ms left out. */
    /** This JVM's GC and JIT counters and per-pool thread CPU at a round's start: what the round itself cost. */
    private record RoundStart(long gcs, long gcMs, long jitMs, Map<String, Long> cpu, int requests) {
        static RoundStart now(EmbeddedApiServer api) {
            return new RoundStart(gcCount(), gcMillis(), jitMillis(), threadCpuByGroup(), api.requestCount());
        }

        /** The API requests of the round, per write: 1.00 when neither the churn nor the daemon read or write more. */
        String requestsPerWrite(EmbeddedApiServer api, int writes) {
            return String.format("%.2f", (api.requestCount() - requests) / (double) writes);
        }
    }

    private static String cpuSince(Map<String, Long> before) {
        return threadCpuByGroup().entrySet().stream()
                .map(e -> Map.entry(e.getKey(), (e.getValue() - before.getOrDefault(e.getKey(), 0L)) / 1_000_000))
                .filter(e -> e.getValue() >= 20).sorted(Map.Entry.<String, Long>comparingByValue().reversed())
                .map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining(" "));
    }

    /** Compiler threads' time so far (CompilationMXBean; all JIT compilers summed). */
    private static long jitMillis() {
        return ManagementFactory.getCompilationMXBean().getTotalCompilationTime();
    }

    private static final String QUEUE_SECONDS = "vmhandler_workqueue_queue_duration_seconds";
    private static final String WORK_SECONDS = "vmhandler_workqueue_work_duration_seconds";

    /** Per-key latencies from one stamp map to another, keys missing from either left out. */
    private record Percentiles(long[] sortedNanos) {
        static Percentiles of(Map<String, Long> from, Map<String, Long> to) {
            long[] l = from.entrySet().stream().filter(e -> to.containsKey(e.getKey()))
                    .mapToLong(e -> Math.max(0, to.get(e.getKey()) - e.getValue())).sorted().toArray();
            return new Percentiles(l);
        }

        double p50() {
            return sortedNanos.length == 0 ? Double.NaN : sortedNanos[sortedNanos.length / 2] / 1e6;
        }

        double p99() {
            return sortedNanos.length == 0 ? Double.NaN : sortedNanos[(int) (sortedNanos.length * 0.99)] / 1e6;
        }

        double max() {
            return sortedNanos.length == 0 ? Double.NaN : sortedNanos[sortedNanos.length - 1] / 1e6;
        }

        @Override
        public String toString() {
            if (sortedNanos.length == 0) {
                return "none";
            }
            return String.format("p50 %5.1f ms, p99 %5.1f ms, max %5.1f ms (%d)", p50(), p99(), max(), sortedNanos.length);
        }
    }

    private static void churn(EmbeddedApiServer api, int n, String tag) {
        churn(api, n, tag, null, null);
    }

    private static void churn(EmbeddedApiServer api, int n, String tag, Map<String, Long> writes,
            Map<String, Long> returned) {
        var vmis = api.client().genericKubernetesResources(VmiResources.CONTEXT).inNamespace("default");
        for (int i = 0; i < n; i++) {
            String name = "vm-" + i;
            String key = "default/" + name;
            GenericKubernetesResource target = new GenericKubernetesResourceBuilder()
                    .withApiVersion(VmiResources.GROUP + "/" + VmiResources.VERSION).withKind(VmiDocument.KIND)
                    .withNewMetadata().withNamespace("default").withName(name).endMetadata().build();
            // stamped before the write: the watch event can reach the daemon before patch() returns
            if (writes != null) {
                GC_AT_WRITE.put(key, gcCount());
                writes.put(key, System.nanoTime());
            }
            // one request, a JSON merge patch (RFC 7386) of the annotation: the stamp above is the write itself, not a
            // read before it. Both edit() and withName(name).patch(..) GET the object first (fabric8 8.0.0,
            // getItemOrRequireFromServer; the API server counted 500 GETs and 500 PATCHes per round), and that GET
            // was counted as reconcile time; given an object naming the VMI, fabric8 sends the patch alone.
            GenericKubernetesResource edited = vmis.resource(target).patch(PatchContext.of(PatchType.JSON_MERGE),
                    "{\"metadata\":{\"annotations\":{\"bench/churn\":\"" + tag + "\"}}}");
            if (writes != null) {
                if (edited == null) {
                    writes.remove(key);
                } else {
                    returned.put(key, System.nanoTime());
                }
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
