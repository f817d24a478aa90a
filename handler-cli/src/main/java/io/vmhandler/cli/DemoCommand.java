package io.vmhandler.cli;

import io.vmhandler.core.app.Daemon;
import io.vmhandler.core.app.DaemonConfig;
import io.vmhandler.cli.demo.DemoClient;
import io.vmhandler.cli.demo.DemoPod;
import io.vmhandler.cli.demo.QemuProcess;
import io.vmhandler.core.model.VmiDocument;
import io.vmhandler.core.plan.NetworkPlan;
import io.vmhandler.core.plan.VcpuTopology;
import io.vmhandler.core.node.NodeFacts;
import io.vmhandler.core.node.NodeProbe;
import io.vmhandler.cli.demo.EmbeddedApiServer;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;

/**
 * {@code vmhandler demo}: the daemon's whole job on one machine, as root, with no cluster. It starts
 * an embedded Kubernetes API (fabric8's mock server in CRUD mode, loopback only), creates the sample
 * VMI from deploy/examples/, makes a launcher "pod" (netns + kubelet-named cpuset cgroup), runs the
 * daemon against the API, and makes the launcher calls through the socket from inside the pod as
 * uid 107 with no capabilities, with a real unprivileged QEMU (required: bin/ensure-packages demo
 * installs it). Everything is removed on exit, Ctrl-C included.
 */
public final class DemoCommand implements Command {
    private static final String NODE = "demo-node";
    private static final long LAUNCHER_ID = 107;

    @Override
    public String name() {
        return "demo";
    }

    @Override
    public String summary() {
        return "run the daemon's whole job on this machine against an embedded API and a throwaway pod";
    }

    @Override
    public String usage() {
        return """
                usage: vmhandler demo [--keep-running] [--vmi FILE]
                  --keep-running  leave the API, daemon, pod and QEMU up until Ctrl-C, to poke at them
                  --vmi FILE      the VMI to run (default deploy/examples/vmi.yaml)
                """;
    }

    @Override
    public int run(List<String> argv, PrintStream out, PrintStream err) throws Exception {
        Args a = Args.parse(argv, Set.of("vmi"), Set.of("keep-running"));
        if (!mockServerPresent()) {
            err.println("vmhandler demo: the embedded Kubernetes API server (fabric8 kubernetes-server-mock) is not on "
                    + "this classpath: the daemon image does not ship it. Run the demo from a source checkout: bin/vmhandler demo");
            return 1;
        }
        if (!QemuProcess.installed()) {
            // the whole job or nothing: a demo without QEMU would show neither the queue attach nor the pinning
            err.println("vmhandler demo: " + QemuProcess.QEMU + " is missing (Debian package qemu-system-x86);"
                    + " bin/ensure-packages demo installs it, as bin/vmhandler demo does");
            return 1;
        }
        Path sample = a.has("vmi") ? Path.of(a.required("vmi")) : defaultSample();
        VmiDocument vmi = VmiDocument.read(sample);
        NodeFacts facts = new NodeProbe(Path.of("/")).probe();
        out.printf("node: kernel %s, cgroups %s, selinux %s%n", facts.kernel(), facts.cgroupMode(), facts.selinuxMode());
        for (NodeFacts.CapabilityCheck c : facts.capabilities()) {
            out.printf("  %-8s %s%n", c.name(), c.available() ? "yes" : "no: " + c.reason());
        }

        Deque<AutoCloseable> undo = new ArrayDeque<>();
        Thread hook = new Thread(() -> cleanup(undo, err), "demo-cleanup");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            long t0 = System.nanoTime();
            EmbeddedApiServer api = EmbeddedApiServer.start();
            push(undo, api);
            out.printf("embedded Kubernetes API (fabric8 mock, CRUD mode) at %s%n", api.url());

            DemoPod pod = DemoPod.create("vmh-demo-" + Long.toString(System.nanoTime() & 0xfffff, 36));
            push(undo, pod);
            out.printf("launcher pod %s: netns %s, cgroup %s%n", pod.uid(), pod.netnsPath(), pod.cgroup());
            api.createScheduledVmi(sample, NODE, pod.uid());
            out.printf("VMI %s created from %s, scheduled to %s with the pod as its active launcher%n", vmi.key(),
                    sample, NODE);

            Path base = Files.createTempDirectory("vmh-demo-");
            push(undo, () -> DemoClient.removeTree(base));
            Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxr-xr-x"));
            Path run = Files.createDirectory(base.resolve("run"), PosixFilePermissions.asFileAttribute(
                    PosixFilePermissions.fromString("rwxr-xr-x")));
            Daemon daemon = new Daemon(DaemonConfig.standalone(NODE, null, run.resolve("launcher.sock"),
                    base.resolve("checkpoints")).withMaster(api.url())).start();
            // the mock must stop before the daemon's watch is closed (EmbeddedApiServer's shutdown note)
            undo.remove(api);
            push(undo, daemon);
            push(undo, api);
            out.printf("daemon ready in %d ms: socket %s, metrics http://127.0.0.1:%d/metrics (/healthz, /readyz)%n",
                    (System.nanoTime() - t0) / 1_000_000, daemon.socket(), daemon.metricsPort());

            DemoClient client = DemoClient.create(pod, daemon.socket(), base);
            out.println("\nlauncher calls from inside the pod, as uid 107 with no capabilities:");
            out.println("$ vmhandler launcher prepare-network");
            if (!client.call(out, err, "prepare-network")) {
                return 1;
            }
            VcpuTopology topology = VcpuTopology.of(vmi);
            int queues = NetworkPlan.of(vmi, topology).stream().mapToInt(NetworkPlan.PlannedTap::queues).max().orElse(1);
            int vcpus = topology.vcpus();
            Process libvirtd = client.sleeper();
            push(undo, () -> {
                libvirtd.destroyForcibly();
                libvirtd.waitFor(10, java.util.concurrent.TimeUnit.SECONDS);
            });
            out.printf("$ vmhandler launcher set-memlock --pid %d   (the pod's libvirtd stand-in)%n", libvirtd.pid());
            if (!client.call(out, err, "set-memlock", "--pid", Long.toString(libvirtd.pid()))) {
                return 1;
            }
            QemuProcess qemu = QemuProcess.start(pod.netnsPath(), "tap0", queues, LAUNCHER_ID, LAUNCHER_ID, vcpus,
                    List.of(pod.cgroup()));
            push(undo, qemu);
            int attached = client.waitForQueues(qemu, queues);
            out.printf("qemu pid %d (uid 107, no capabilities, %d vCPUs) attached %d/%d queues of tap0%n",
                    qemu.pid(), vcpus, attached, queues);
            if (attached != queues) {
                out.println(qemu.output());
                return 1;
            }
            client.waitForVcpuThreads(qemu, vcpus);
            out.printf("$ vmhandler launcher pin-vcpus --pid %d%n", qemu.pid());
            if (!client.call(out, err, "pin-vcpus", "--pid", Long.toString(qemu.pid()))) {
                return 1;
            }
            out.println("\nwhat the node's metrics say:");
            client.printMetrics(out, daemon.metricsPort());
            if (a.flag("keep-running")) {
                out.printf("%nrunning; try: ip netns exec %s ip -d link show tap0%n", pod.netnsName());
                out.println("press Ctrl-C to clean up and exit");
                out.flush();
                new CountDownLatch(1).await();
            }
            return 0;
        } finally {
            cleanup(undo, err);
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // already shutting down: the hook is running the same cleanup
            }
            out.println("cleaned up");
        }
    }

    private static Path defaultSample() {
        String home = System.getProperty("vmhandler.home", ".");
        Path p = Path.of(home, "deploy", "examples", "vmi.yaml");
        if (!Files.isRegularFile(p)) {
            throw new UsageException("sample VMI " + p + " not found; pass --vmi FILE");
        }
        return p;
    }

    private static synchronized void push(Deque<AutoCloseable> undo, AutoCloseable c) {
        undo.push(c);
    }

    private static synchronized void cleanup(Deque<AutoCloseable> undo, PrintStream err) {
        while (!undo.isEmpty()) {
            try {
                undo.pop().close();
            } catch (Exception e) {
                err.println("cleanup: " + e.getMessage());
            }
        }
    }

    /**
     * The daemon image carries handler-core's runtime classpath and this module's jar, not the mock server (see
     * deploy/Containerfile). Checked by name, before any class that links against the mock is loaded.
     */
    static boolean mockServerPresent() {
        try {
            Class.forName("io.fabric8.kubernetes.client.server.mock.KubernetesMockServer", false,
                    DemoCommand.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException e) {
            return false;
        }
    }
}
