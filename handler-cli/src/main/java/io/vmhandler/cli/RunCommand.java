package io.vmhandler.cli;

import io.vmhandler.core.app.Daemon;
import io.vmhandler.core.app.DaemonConfig;
import io.vmhandler.memlock.LibvirtVersion;
import io.vmhandler.nativeio.NamespaceWorkers;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.function.Function;

/**
 * {@code vmhandler run}: the node daemon. With {@code --vmi-dir} it reads VMI files instead of the
 * API server (standalone mode); otherwise it watches the API (in-cluster config in a pod, or
 * {@code --kubeconfig}/{@code --master}). SIGTERM stops it gracefully.
 */
public final class RunCommand implements Command {
    private final Function<DaemonConfig, Daemon> daemons;

    public RunCommand(Function<DaemonConfig, Daemon> daemons) {
        this.daemons = daemons;
    }

    @Override
    public String name() {
        return "run";
    }

    @Override
    public String summary() {
        return "run the node daemon (VMI watch, launcher API socket, metrics)";
    }

    @Override
    public String usage() {
        return """
                usage: vmhandler run --node NAME [--vmi-dir DIR | --kubeconfig FILE | --master URL]
                                     [--socket PATH] [--socket-mode OCTAL] [--socket-group GID]
                                     [--metrics-address ADDR] [--metrics-port N] [--checkpoint-dir DIR]
                                     [--default-libvirt-version X.Y.Z] [--cgroup-root DIR] [--proc-root DIR]
                                     [--netns-workers N] [--workers N] [--selinux auto|off]
                                     [--max-calls-per-caller N] [--admin-group GID]
                  --node           this node's name (default: $NODE_NAME)
                  --vmi-dir        standalone mode: VMI YAML/JSON files in DIR instead of the API server
                  --kubeconfig     kubeconfig file; without it and --master, in-cluster config is used
                  --socket         launcher API socket (default /var/run/vmhandler/launcher.sock)
                  --socket-mode    socket file mode, octal (default 0666: identity comes from SO_PEERCRED)
                  --metrics-port   /metrics, /healthz, /readyz port (default 9464; 0 = any free port, -1 = off)
                  --checkpoint-dir state that cannot be rebuilt from the API and the host (default /var/lib/vmhandler)
                  --cgroup-root    /sys/fs/cgroup, or /proc/1/root/sys/fs/cgroup from a pod
                  --admin-group    members of this gid (outside pods) may read `vmhandler status`; root always may
                """;
    }

    @Override
    public int run(List<String> argv, PrintStream out, PrintStream err) throws Exception {
        Args a = Args.parse(argv, Set.of("node", "vmi-dir", "kubeconfig", "master", "socket", "socket-mode",
                "socket-group", "metrics-address", "metrics-port", "checkpoint-dir", "default-libvirt-version",
                "cgroup-root", "proc-root", "netns-workers", "workers", "selinux", "max-calls-per-caller", "admin-group"),
                Set.of());
        DaemonConfig config = config(a);
        Daemon daemon = daemons.apply(config);
        // the informer gave up for good (401/403/404): exit non-zero so the DaemonSet restarts us
        daemon.onFatal(cause -> new Thread(() -> System.exit(1), "vmhandler-fatal").start());
        Thread hook = new Thread(daemon::close, "vmhandler-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        daemon.start();
        out.printf("vmhandler ready: socket %s, metrics port %d%n", daemon.socket(), daemon.metricsPort());
        out.flush();
        daemon.awaitStop();
        return 0;
    }

    static DaemonConfig config(Args a) {
        String node = a.optional("node") != null ? a.optional("node") : System.getenv("NODE_NAME");
        if (node == null || node.isBlank()) {
            throw new UsageException("--node is required (or set NODE_NAME)");
        }
        int sources = (a.has("vmi-dir") ? 1 : 0) + (a.has("kubeconfig") ? 1 : 0) + (a.has("master") ? 1 : 0);
        if (sources > 1) {
            throw new UsageException("--vmi-dir, --kubeconfig and --master cannot be combined");
        }
        int mode;
        String m = a.optional("socket-mode") == null ? "0666" : a.optional("socket-mode");
        try {
            mode = Integer.parseInt(m, 8);
        } catch (NumberFormatException e) {
            throw new UsageException("--socket-mode must be octal like 0660, got '" + m + "'");
        }
        if (mode < 0 || mode > 0777) {
            throw new UsageException("--socket-mode must be in 0000..0777, got " + m);
        }
        String selinux = a.optional("selinux") == null ? "auto" : a.optional("selinux");
        if (!selinux.equals("auto") && !selinux.equals("off")) {
            throw new UsageException("--selinux must be auto or off, got '" + selinux + "'");
        }
        return new DaemonConfig(node,
                a.has("vmi-dir") ? Path.of(a.required("vmi-dir")) : null,
                a.has("kubeconfig") ? Path.of(a.required("kubeconfig")) : null,
                a.optional("master"),
                Path.of(or(a, "socket", "/var/run/vmhandler/launcher.sock")),
                mode,
                a.optionalInt("socket-group", 0, Integer.MAX_VALUE),
                or(a, "metrics-address", "0.0.0.0"),
                a.has("metrics-port") ? a.intValue("metrics-port", -1, 65535) : 9464,
                Path.of(or(a, "checkpoint-dir", "/var/lib/vmhandler")),
                a.has("default-libvirt-version") ? LibvirtVersion.parse("--default-libvirt-version",
                        a.required("default-libvirt-version")) : LibvirtVersion.DEFAULT,
                Path.of(or(a, "proc-root", "/proc")),
                Path.of(or(a, "cgroup-root", "/sys/fs/cgroup")),
                a.has("netns-workers") ? a.intValue("netns-workers", 1, 64) : Math.min(64, NamespaceWorkers.cores()),
                a.has("workers") ? a.intValue("workers", 1, 64) : 4,
                selinux,
                a.has("max-calls-per-caller") ? a.intValue("max-calls-per-caller", 1, 1024)
                        : DaemonConfig.DEFAULT_MAX_CALLS_PER_CALLER,
                a.optionalInt("admin-group", 0, Integer.MAX_VALUE));
    }

    private static String or(Args a, String flag, String dflt) {
        String v = a.optional(flag);
        return v == null ? dflt : v;
    }
}
