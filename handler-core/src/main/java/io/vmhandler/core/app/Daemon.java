package io.vmhandler.core.app;

import io.vmhandler.cgroups.CgroupManager;
import io.vmhandler.cgroups.CgroupManagers;
import io.vmhandler.core.directory.VmiDirectory;
import io.vmhandler.core.directory.VmiFileSource;
import io.vmhandler.core.launcher.CallerResolver;
import io.vmhandler.core.launcher.CgroupPodResolver;
import io.vmhandler.core.launcher.CoreLauncherBackend;
import io.vmhandler.core.launcher.LauncherEvents;
import io.vmhandler.core.launcher.LauncherMemlock;
import io.vmhandler.core.launcher.LauncherNetwork;
import io.vmhandler.core.launcher.LauncherPinning;
import io.vmhandler.core.memlock.MemlockApplier;
import io.vmhandler.core.memlock.MemlockFormula;
import io.vmhandler.core.memlock.VmiMemlockMapper;
import io.vmhandler.core.metrics.DaemonMetrics;
import io.vmhandler.core.metrics.MetricsServer;
import io.vmhandler.core.metrics.Readiness;
import io.vmhandler.core.node.NodeFacts;
import io.vmhandler.core.node.NodeProbe;
import io.vmhandler.core.pinning.VcpuPinner;
import io.vmhandler.core.proc.PidNamespaces;
import io.vmhandler.grpc.server.ServerOptions;
import io.vmhandler.grpc.server.UnixSocketServer;
import io.vmhandler.nativeio.NativeSupport;
import io.vmhandler.nativeio.NetNamespace;
import io.vmhandler.net.IoctlTapDevices;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node daemon: wires the capabilities, the VMI source, metrics and the launcher socket, in the
 * startup order the operators rely on (native check, node facts logged once, metrics and health,
 * the VMI source synced, then the socket), and stops them in reverse on {@link #close()}.
 */
public final class Daemon implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Daemon.class);

    private final DaemonConfig config;
    private final Deque<AutoCloseable> stack = new ArrayDeque<>();
    private final CountDownLatch stopped = new CountDownLatch(1);
    private volatile Readiness readiness = Readiness.notReady("starting");
    private VmiDirectory directory;
    private VmiFileSource vmiFiles;
    private DaemonMetrics metrics;
    private MetricsServer metricsServer;
    private UnixSocketServer socketServer;

    public Daemon(DaemonConfig config) {
        this.config = config;
    }

    public Daemon start() throws IOException {
        try {
            NativeSupport.ensureAvailable();
            NodeFacts facts = new NodeProbe(Path.of("/")).probe();
            log.atInfo().addKeyValue("node", config.node()).addKeyValue("kernel", facts.kernel())
                    .addKeyValue("cgroups", facts.cgroupMode()).addKeyValue("selinux", facts.selinuxMode())
                    .addKeyValue("capabilities", facts.capabilities().stream()
                            .map(c -> c.name() + "=" + (c.available() ? "yes" : "no")).toList().toString())
                    .log("vmhandler {} starting on node {}", Version.current(), config.node());

            metrics = DaemonMetrics.create();
            if (config.metricsPort() >= 0) {
                metricsServer = MetricsServer.start(new InetSocketAddress(config.metricsAddress(), config.metricsPort()),
                        metrics.registry(), () -> readiness);
                stack.push(metricsServer);
            }
            metrics.watchReadiness(() -> readiness.isReady());

            directory = new VmiDirectory(config.node());
            directory.addListener(k -> metrics.vmisManaged(directory.size()));
            if (config.standalone()) {
                vmiFiles = new VmiFileSource(config.vmiDir(), directory);
                vmiFiles.start(1000);
                stack.push(vmiFiles);
            }

            NetNamespace netns = new NetNamespace("api", config.netnsWorkers());
            stack.push(netns);
            CgroupManager cgroups = CgroupManagers.detect(config.cgroupRoot(), config.procRoot());
            CallerResolver resolver = new CallerResolver(config.procRoot(), new CgroupPodResolver(cgroups), directory);
            CoreLauncherBackend backend = new CoreLauncherBackend(resolver,
                    new LauncherNetwork(new IoctlTapDevices(netns)),
                    new LauncherMemlock(resolver, new VmiMemlockMapper(VmiMemlockMapper.KubevirtDevices.NONE,
                            System.getProperty("os.arch")), new MemlockFormula(), new MemlockApplier(),
                            config.defaultLibvirtVersion()),
                    new LauncherPinning(resolver, new VcpuPinner(cgroups, config.procRoot())),
                    new PidNamespaces(config.procRoot()), metrics, LauncherEvents.NONE);

            ServerOptions.Builder opts = ServerOptions.builder(config.socket()).mode(config.socketMode())
                    .maxConcurrentCallsPerCaller(config.maxCallsPerCaller());
            if (config.socketGroup() != null) {
                opts.ownerGid(config.socketGroup());
            }
            socketServer = UnixSocketServer.startLauncherApi(opts.build(), backend, new CoreInfoProvider(config.node(), facts));
            stack.push(socketServer);
            readiness = Readiness.ready();
            log.atInfo().addKeyValue("socket", config.socket().toString())
                    .addKeyValue("metricsPort", metricsPort())
                    .log("ready: launcher API on {}, {} VMI(s) known", config.socket(), directory.size());
            return this;
        } catch (IOException | RuntimeException e) {
            close();
            throw e;
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
