package io.vmhandler.core.app;

import io.vmhandler.cgroups.CgroupManager;
import io.vmhandler.cgroups.CgroupManagers;
import io.vmhandler.core.checkpoint.CheckpointRecord;
import io.vmhandler.core.checkpoint.CheckpointStore;
import io.vmhandler.core.directory.VmiDirectory;
import io.vmhandler.core.directory.VmiFileSource;
import io.vmhandler.core.launcher.CallerResolver;
import io.vmhandler.core.launcher.CgroupPodResolver;
import io.vmhandler.core.launcher.CoreLauncherBackend;
import io.vmhandler.core.launcher.LauncherEvents;
import io.vmhandler.core.launcher.LauncherMemlock;
import io.vmhandler.core.launcher.LauncherNetwork;
import io.vmhandler.core.launcher.PodNetnsLocator;
import io.vmhandler.core.launcher.TapReaper;
import io.vmhandler.core.launcher.LauncherPinning;
import io.vmhandler.core.memlock.MemlockApplier;
import io.vmhandler.core.memlock.MemlockLimits;
import io.vmhandler.memlock.MemlockFormula;
import io.vmhandler.core.memlock.VmiMemlockMapper;
import io.vmhandler.core.metrics.DaemonMetrics;
import io.vmhandler.core.metrics.MetricsServer;
import io.vmhandler.core.metrics.Readiness;
import io.vmhandler.core.metrics.SelinuxModuleState;
import io.vmhandler.selinux.SelinuxPolicies;
import io.vmhandler.selinux.SelinuxStartup;
import io.vmhandler.core.loop.ControllerLoop;
import io.vmhandler.core.node.NodeFacts;
import io.vmhandler.core.node.NodeProbe;
import io.vmhandler.core.pinning.Pinner;
import io.vmhandler.core.pinning.VcpuPinner;
import io.vmhandler.proc.PidNamespaces;
import io.vmhandler.proc.ProcFs;
import io.vmhandler.core.plan.VmiPlanner;
import io.vmhandler.core.reconcile.KubeNotifier;
import io.vmhandler.core.reconcile.LiveProcesses;
import io.vmhandler.core.reconcile.VmiNotifier;
import io.vmhandler.core.reconcile.VmiReconciler;
import io.vmhandler.core.reconcile.VmiStateRecorder;
import io.vmhandler.core.status.CoreNodeStatusProvider;
import io.vmhandler.core.status.ProcCallerFacts;
import io.vmhandler.core.status.StatusRecordingBackend;
import io.vmhandler.core.status.VmiStatusBook;
import io.vmhandler.core.status.WatchTracker;
import io.vmhandler.core.watch.KubeEvents;
import io.vmhandler.core.watch.VmiInformer;
import io.vmhandler.core.watch.VmiStatusWriter;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import io.vmhandler.grpc.AdminAccess;
import io.vmhandler.grpc.AfterReply;
import io.vmhandler.grpc.CallOffload;
import io.vmhandler.grpc.server.ServerOptions;
import io.vmhandler.grpc.server.UnixSocketServer;
import io.vmhandler.nativeio.NativeSupport;
import io.vmhandler.core.devices.DeviceSettings;
import io.vmhandler.nativeio.NetNamespace;
import io.vmhandler.net.IoctlTapDevices;
import io.vmhandler.net.RtnetlinkTapQos;
import io.vmhandler.net.linux.Psched;
import io.vmhandler.net.TapDevices;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.CountDownLatch;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node daemon: wires the capabilities, the VMI source, metrics and the launcher socket, in the
 * startup order the operators rely on (native check, node facts logged once, metrics and health,
 * the VMI source synced, then the socket, then the reconcile workers), and stops them in reverse on
 * {@link #close()}. The ready line logs how long each phase of the start took ({@link StartupTimeline}).
 */
public final class Daemon implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Daemon.class);

    /**
     * How often a degraded checkpoint store retries its pending writes: a directory made writable
     * again gets the state within this, without waiting for the next launcher call or VMI change.
     */
    static final Duration CHECKPOINT_RETRY = Duration.ofSeconds(5);

    /**
     * Threads deleting released taps: deletions of different taps overlap in the kernel (docs/launcher-api.md
     * §3.5), and the threads mostly sleep in the RCU wait, so a few drain a burst without taking the CPUs.
     */
    static final int REAPER_WORKERS = 4;
    /** Deletions queued beyond the workers; past this a Release deletes its taps itself (backpressure). */
    static final int REAPER_QUEUE = 1024;

    private final DaemonConfig config;
    private final Deque<AutoCloseable> stack = new ArrayDeque<>();
    private final CountDownLatch stopped = new CountDownLatch(1);
    private volatile Readiness readiness = Readiness.notReady("starting");
    private VmiDirectory directory;
    private VmiFileSource vmiFiles;
    private DaemonMetrics metrics;
    private MetricsServer metricsServer;
    private UnixSocketServer socketServer;
    private ControllerLoop<String> loop;
    private java.util.function.Consumer<Throwable> fatal = err -> { };
    private UnaryOperator<TapDevices> tapSeam = UnaryOperator.identity();
    private UnaryOperator<TapDevices> reaperTapSeam = UnaryOperator.identity();
    private UnaryOperator<MemlockLimits> memlockSeam = UnaryOperator.identity();
    private UnaryOperator<Pinner> pinnerSeam = UnaryOperator.identity();
    private DeviceSettings deviceSettings = DeviceSettings.fromEnvironment();

    public Daemon(DaemonConfig config) {
        this.config = config;
    }

    /**
     * Where PrepareDevices finds the node's /dev, /sys and kubelet's PodResources socket; the default
     * is {@link DeviceSettings#fromEnvironment()}. Call before {@link #start()}.
     */
    public Daemon deviceSettings(DeviceSettings settings) {
        this.deviceSettings = java.util.Objects.requireNonNull(settings, "settings");
        return this;
    }

    /** What to do when the daemon can no longer work (the informer stopped for good): the CLI exits non-zero. */
    public Daemon onFatal(java.util.function.Consumer<Throwable> handler) {
        this.fatal = handler;
        return this;
    }

    /**
     * Fault-injection seam, for tests only: wraps the tap devices behind PrepareNetwork and Release,
     * so an integration test can hold a call between two real kernel steps and kill the caller or
     * its netns right there (FaultInjectionIT). Production ({@code RunCommand}) never calls it, and
     * the default is the identity. Call before {@link #start()}.
     */
    public Daemon decorateTaps(UnaryOperator<TapDevices> decorator) {
        this.tapSeam = java.util.Objects.requireNonNull(decorator, "decorator");
        return this;
    }

    /**
     * The same seam for the tap devices the background deleter ({@link TapReaper}) deletes released taps with
     * (tests only; identity by default): a test holds a deletion to kill the daemon before it.
     */
    public Daemon decorateReaperTaps(UnaryOperator<TapDevices> decorator) {
        this.reaperTapSeam = java.util.Objects.requireNonNull(decorator, "decorator");
        return this;
    }

    /** The same seam for the memlock applier behind SetMemoryLock (tests only; identity by default). */
    public Daemon decorateMemlock(UnaryOperator<MemlockLimits> decorator) {
        this.memlockSeam = java.util.Objects.requireNonNull(decorator, "decorator");
        return this;
    }

    /** The same seam for the vCPU pinner behind PinVcpus (tests only; identity by default). */
    public Daemon decoratePinner(UnaryOperator<Pinner> decorator) {
        this.pinnerSeam = java.util.Objects.requireNonNull(decorator, "decorator");
        return this;
    }

    /** The reconcile loop, e.g. to wait for an idle queue in tests and benchmarks. */
    public ControllerLoop<String> loop() {
        return loop;
    }

    public Daemon start() throws IOException {
        try {
            StartupTimeline timeline = new StartupTimeline();
            EarlyStart early = EarlyStart.begin(config);
            stack.push(early);
            NativeSupport.ensureAvailable();
            timeline.mark("native");
            NodeFacts facts = new NodeProbe(Path.of("/"), new ProcFs(config.procRoot())).probe();
            log.atInfo().addKeyValue("node", config.node()).addKeyValue("kernel", facts.kernel())
                    .addKeyValue("cgroups", facts.cgroupMode()).addKeyValue("selinux", facts.selinuxMode())
                    .addKeyValue("capabilities", facts.capabilities().stream()
                            .map(c -> c.name() + "=" + (c.available() ? "yes" : "no")).toList().toString())
                    .log("vmhandler {} starting on node {}", Version.current(), config.node());

            timeline.mark("nodeFacts");
            // the JVM's own metrics load java.lang.management: registered once ready (below), off the path to it
            metrics = DaemonMetrics.daemonOnly();
            if (config.metricsPort() >= 0) {
                metricsServer = MetricsServer.start(new InetSocketAddress(config.metricsAddress(), config.metricsPort()),
                        metrics.registry(), () -> readiness);
                stack.push(metricsServer);
            }
            metrics.watchReadiness(() -> readiness.isReady());
            timeline.mark("metrics");
            selinux(facts);
            timeline.mark("selinux");

            CheckpointStore store = CheckpointStore.open(config.checkpointDir());
            stack.push(store);
            store.retryWhileDegraded(CHECKPOINT_RETRY);
            metrics.watchCheckpoint(store::degraded, store::corruptFiles);
            timeline.mark("checkpoint");

            directory = new VmiDirectory(config.node());
            WatchTracker watch = new WatchTracker(config.standalone() ? "files" : "api", Clock.systemUTC());
            directory.addListener(k -> metrics.vmisManaged(directory.size()));
            NetNamespace netns = new NetNamespace("api", config.netnsWorkers());
            stack.push(netns);
            CgroupManager cgroups = CgroupManagers.detect(config.cgroupRoot(), config.procRoot());
            CallerResolver resolver = new CallerResolver(config.procRoot(), new CgroupPodResolver(cgroups), directory);
            MemlockApplier applier = new MemlockApplier(config.procRoot());
            MemlockFormula formula = new MemlockFormula();
            Psched psched = Psched.system();
            VmiPlanner planner = new VmiPlanner(new VmiMemlockMapper(VmiMemlockMapper.KubevirtDevices.NONE,
                    System.getProperty("os.arch")), formula, config.defaultLibvirtVersion(), psched);
            LauncherMemlock memlock = new LauncherMemlock(resolver, formula, memlockSeam.apply(applier));
            VcpuPinner pinner = new VcpuPinner(cgroups, config.procRoot());
            LiveProcesses processes = LiveProcesses.proc(config.procRoot());

            timeline.mark("wiring");
            VmiNotifier notifier = VmiNotifier.NONE;
            KubernetesClient client = null;
            KubeEvents events = null;
            if (!config.standalone()) {
                client = early.client();
                timeline.mark("awaitClient");
                stack.push(client);
                events = new KubeEvents(client, config.node(), Clock.systemUTC());
                stack.push(events);
                notifier = new KubeNotifier(events, new VmiStatusWriter(client, Clock.systemUTC()));
            }
            VmiStateRecorder recorder = new VmiStateRecorder(store, notifier);
            VmiStatusBook book = new VmiStatusBook(new PidNamespaces(config.procRoot()), Clock.systemUTC());
            CoreNodeStatusProvider nodeStatus = new CoreNodeStatusProvider(config.node(), Version.current(), directory,
                    book, store::health, watch, Clock.systemUTC());
            final VmiNotifier n = book.observing(notifier);
            if (config.standalone()) {
                // the file source feeds the directory; the reconciler only re-applies on changes
                loop = ControllerLoop.<String>builder("vmi", new VmiReconciler(directory::get, null, store, planner,
                        formula, applier, pinner, processes, metrics, n)).workers(config.reconcileWorkers())
                        .listener(metrics.workQueueListener("vmi")).build();
                stack.push(loop);
                directory.addListener(loop::add);
                vmiFiles = new VmiFileSource(config.vmiDir(), directory);
                vmiFiles.start(1000);
                watch.synced();
                stack.push(vmiFiles);
            } else {
                VmiInformer[] holder = new VmiInformer[1];
                loop = ControllerLoop.<String>builder("vmi", new VmiReconciler(k -> holder[0].get(k), directory, store,
                        planner, formula, applier, pinner, processes, metrics, n)).workers(config.reconcileWorkers())
                        .listener(metrics.workQueueListener("vmi")).build();
                VmiInformer informer = new VmiInformer(client, config.node(), loop::add, Duration.ofMinutes(10));
                holder[0] = informer;
                metrics.watchApiServer(informer::isWatching, events::dropped, events::failed);
                stack.push(loop);
                stack.push(informer);
                informer.stopped().whenComplete((v, err) -> {
                    if (err != null) {
                        log.error("the VMI informer stopped for good: {}", err.getMessage());
                        fatal.accept(err);
                    }
                });
                readiness = Readiness.notReady("VMI informer not synced");
                informer.start().toCompletableFuture().get(config.syncTimeoutSeconds(), TimeUnit.SECONDS);
                timeline.mark("informerList");
                // the directory must hold every VMI before the first launcher call is answered
                for (String key : informer.keys()) {
                    informer.get(key).ifPresent(directory::put);
                }
                watch.synced();
                watch.upWhen(informer::isWatching);
                timeline.mark("directoryFill");
            }
            // A VMI deleted while the daemon was down exists only in the checkpoint: no event will ever name it, so
            // its key is reconciled now, after the first full read of the VMIs, and the reconciler drops its state
            // (ChaosIT found such records kept forever). A key whose VMI is here is reconciled once more: idempotent.
            int checkpointed = 0;
            for (CheckpointRecord r : store.list()) {
                Optional<String> key = r.get(VmiStateRecorder.KEY);
                if (key.isPresent()) {
                    loop.add(key.get());
                    checkpointed++;
                }
            }
            log.atInfo().addKeyValue("records", checkpointed).log("checkpointed VMIs queued for reconcile");

            // released taps are deleted in the background, on netns workers of their own (docs/launcher-api.md §3.5)
            NetNamespace reapNetns = new NetNamespace("tap-reaper", REAPER_WORKERS);
            stack.push(reapNetns);
            TapReaper reaper = new TapReaper(reaperTapSeam.apply(new IoctlTapDevices(reapNetns)),
                    new RtnetlinkTapQos(reapNetns, psched), store, metrics, REAPER_WORKERS, REAPER_QUEUE)
                    // a PrepareNetwork waiting for its pod's deletions frees its launcher worker's slot for other pods
                    .waitingWith(netns.workers()::awaiting)
                    // the deleter threads wake once Release's reply is on its way, not while it is being written
                    .startingWith(AfterReply.INSTANCE);
            stack.push(reaper);
            // its record is on Release's path and names taps that no reboot keeps: no fsync (docs/launcher-api.md §3.5)
            store.withoutFsync(TapReaper.RECORD_PREFIX);
            // a replaced record's old inode is freed after the launcher call's reply, not before it (CheckpointDir)
            store.disposeReplacedWith(AfterReply.INSTANCE);
            metrics.watchTapDeletions(reaper::pending);
            // before the launcher socket serves (below): a recorded tap counts as pending for its pod from here on
            reaper.resume(new PodNetnsLocator(new ProcFs(config.procRoot()), new CgroupPodResolver(cgroups)));
            LauncherNetwork network = new LauncherNetwork(tapSeam.apply(new IoctlTapDevices(netns)),
                    new RtnetlinkTapQos(netns, psched), metrics, reaper);
            CoreLauncherBackend backend = new CoreLauncherBackend(resolver, planner, network, memlock,
                    new LauncherPinning(resolver, pinnerSeam.apply(pinner)), new PidNamespaces(config.procRoot()), metrics,
                    book.after(recorder), recorder, deviceSettings.podDevices(config.procRoot(), netns));

            timeline.mark("backend");
            early.awaitTransport();
            timeline.mark("awaitTransport");
            ServerOptions.Builder opts = ServerOptions.builder(config.socket()).mode(config.socketMode())
                    .maxConcurrentCallsPerCaller(config.maxCallsPerCaller());
            if (config.socketGroup() != null) {
                opts.ownerGid(config.socketGroup());
            }
            CgroupPodResolver pods = new CgroupPodResolver(cgroups);
            socketServer = UnixSocketServer.startLauncherApi(opts.build(),
                    new StatusRecordingBackend(backend, book, StatusRecordingBackend.byPod(pods, directory)),
                    new CoreInfoProvider(config.node(), facts), nodeStatus,
                    new AdminAccess(config.adminGroup() == null ? OptionalInt.empty() : OptionalInt.of(config.adminGroup()),
                            new ProcCallerFacts(config.procRoot(), pods, ProcCallerFacts.ownPod(config.procRoot(), pods))),
                    (method, code, took) -> metrics.grpcCall(method, code.name(), took),
                    // one hand-off per launcher call: its worker resolves the caller and enters the netns itself,
                    // and replies once it is idle again, so the launcher's next call finds that same worker
                    CallOffload.of(netns.executor(), netns.workers()::afterTask));
            stack.push(socketServer);
            timeline.mark("socket");
            // Reconciles (every VMI once at start: taps, memlock, pinning re-checked) are not needed to answer
            // launchers, whose calls read the directory filled above; run before ready, 500 of them took the
            // CPUs the start needs (docs/deploy.md). Keys queued until now are kept and run from here.
            loop.start();
            readiness = Readiness.ready();
            timeline.record("earlyClient", early.clientMillis());
            timeline.record("earlyTransport", early.transportMillis());
            timeline.addTo(log.atInfo().addKeyValue("socket", config.socket().toString())
                    .addKeyValue("metricsPort", metricsPort()))
                    .log("ready: launcher API on {}, {} VMI(s) known", config.socket(), directory.size());
            // off the starting thread: the ready line (RunCommand) follows start() at once
            Thread jvmMetrics = new Thread(metrics::registerJvmMetrics, "vmhandler-jvm-metrics");
            jvmMetrics.setDaemon(true);
            jvmMetrics.start();
            return this;
        } catch (IOException | RuntimeException e) {
            close();
            throw e;
        } catch (InterruptedException e) {
            close();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for the VMI informer to sync", e);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            close();
            throw new IOException("the VMI informer did not sync within " + config.syncTimeoutSeconds() + " s: "
                    + e.getMessage(), e);
        }
    }

    /**
     * The launcher SELinux module, before anything is served: skipped (and said once) where SELinux
     * is disabled; a failed install is logged and exported, and the daemon goes on serving the rest.
     */
    private void selinux(NodeFacts facts) {
        if (config.selinux().equals("off") || facts.selinuxMode().equals("disabled")) {
            log.atInfo().addKeyValue("selinux", facts.selinuxMode()).addKeyValue("flag", config.selinux())
                    .log("SELinux is {} on this node: skipping the launcher SELinux module",
                            config.selinux().equals("off") ? "turned off by --selinux off" : "disabled");
            metrics.selinuxModule(SelinuxModuleState.NOT_APPLICABLE);
            return;
        }
        try {
            var d = new SelinuxStartup(SelinuxPolicies.host()).ensure();
            metrics.selinuxModule(d.selinuxEnabled() ? SelinuxModuleState.INSTALLED : SelinuxModuleState.NOT_APPLICABLE);
        } catch (Exception e) {
            log.atError().log("installing the launcher SELinux module failed: {}", e.getMessage());
            metrics.selinuxModule(SelinuxModuleState.FAILED);
        }
    }

    public VmiDirectory directory() {
        return directory;
    }

    /** The standalone VMI file source, or null in API mode. */
    public VmiFileSource vmiFiles() {
        return vmiFiles;
    }

    public DaemonMetrics metrics() {
        return metrics;
    }

    /** The real metrics port (useful with port 0), or -1 when metrics are off. */
    public int metricsPort() {
        return metricsServer == null ? -1 : metricsServer.port();
    }

    public Path socket() {
        return config.socket();
    }

    public void awaitStop() throws InterruptedException {
        stopped.await();
    }

    @Override
    public synchronized void close() {
        readiness = Readiness.notReady("stopping");
        while (!stack.isEmpty()) {
            AutoCloseable c = stack.pop();
            try {
                c.close();
            } catch (Exception e) {
                log.warn("stopping {} failed: {}", c.getClass().getSimpleName(), e.getMessage());
            }
        }
        stopped.countDown();
    }

    static List<String> describe(DaemonConfig c) {
        return List.of("node=" + c.node(), "socket=" + c.socket());
    }
}
