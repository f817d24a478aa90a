package io.vmhandler.cli;

import io.grpc.StatusRuntimeException;
import io.vmhandler.core.json.Json;
import io.vmhandler.grpc.admin.v1.GetNodeStatusResponse;
import io.vmhandler.grpc.client.LauncherClient;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;

/**
 * {@code vmhandler status}: what the daemon on this node serves, read over its socket with
 * {@code vmhandler.admin.v1.Admin/GetNodeStatus}. The daemon decides from the kernel who is asking:
 * only root or its admin group, outside pods, get an answer. Exit 0 with the status, 1 when the
 * daemon is unreachable or refuses (the gRPC code name and description on stderr, as
 * {@code vmhandler launcher} prints them), 2 on bad usage.
 */
public final class StatusCommand implements Command {
    static final String DEFAULT_SOCKET = "/var/run/vmhandler/launcher.sock";

    @Override
    public String name() {
        return "status";
    }

    @Override
    public String summary() {
        return "what the daemon on this node serves: VMIs, taps, memlock, pinning, last errors (root/admin group)";
    }

    @Override
    public String usage() {
        return """
                usage: vmhandler status [--socket PATH] [--json] [--timeout SECONDS]
                  --socket   the daemon's socket (default %s)
                  --json     one JSON object instead of text
                  --timeout  give up after this many seconds (default %d)
                allowed for root and for members of the daemon's --admin-group, outside Kubernetes pods.
                """.formatted(DEFAULT_SOCKET, LauncherClient.DEFAULT_DEADLINE.toSeconds());
    }

    @Override
    public int run(List<String> argv, PrintStream out, PrintStream err) {
        Args a = Args.parse(argv, Set.of("socket", "timeout"), Set.of("json"));
        if (!a.positionals().isEmpty()) {
            throw new UsageException("status takes no arguments, got '" + a.positionals().get(0) + "'");
        }
        Path socket = Path.of(a.optional("socket") == null ? DEFAULT_SOCKET : a.optional("socket"));
        Integer timeout = a.optionalInt("timeout", 1, 3600);
        Duration deadline = timeout == null ? LauncherClient.DEFAULT_DEADLINE : Duration.ofSeconds(timeout);
        GetNodeStatusResponse status;
        try (LauncherClient client = LauncherClient.connect(socket, deadline)) {
            status = client.nodeStatus();
        } catch (StatusRuntimeException e) {
            String desc = e.getStatus().getDescription();
            err.println(e.getStatus().getCode().name() + ": " + (desc == null ? "" : desc));
            return 1;
        }
        if (a.flag("json")) {
            out.println(Json.write(StatusView.json(status)));
        } else {
            out.print(StatusView.text(status));
        }
        return 0;
    }
}
