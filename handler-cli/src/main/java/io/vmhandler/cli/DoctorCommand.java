package io.vmhandler.cli;

import io.vmhandler.core.json.Json;
import io.vmhandler.core.node.NodeFacts;
import io.vmhandler.core.node.NodeProbe;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/** {@code vmhandler doctor [--json] [--host-root DIR]}: the node facts and what the daemon can do here. */
public final class DoctorCommand implements Command {
    @Override
    public String name() {
        return "doctor";
    }

    @Override
    public String summary() {
        return "print the node facts and which daemon capabilities this node supports";
    }

    @Override
    public String usage() {
        return """
                usage: vmhandler doctor [--json] [--host-root DIR]
                  --json          one JSON object instead of text
                  --host-root DIR read host facts under DIR (default /; /proc/1/root from a hostPID pod)
                """;
    }

    @Override
    public int run(List<String> argv, PrintStream out, PrintStream err) {
        Args a = Args.parse(argv, Set.of("host-root"), Set.of("json"));
        NodeFacts f = new NodeProbe(Path.of(a.optional("host-root") == null ? "/" : a.optional("host-root"))).probe();
        if (a.flag("json")) {
            out.println(Json.write(f.toMap()));
            return 0;
        }
        out.println("kernel:        " + f.kernel());
        out.println("/dev/net/tun:  " + (f.tunDevice() ? "present" : "missing"));
        out.println("/dev/kvm:      " + (f.kvmDevice() ? "present" : "missing"));
        out.println("cgroups:       " + f.cgroupMode());
        out.println("selinux:       " + f.selinuxMode());
        out.println("native lib:    " + (f.nativeLoaded() ? "loaded" : "NOT loaded: " + f.nativeError()));
        out.println("capabilities:  " + String.join(" ", f.effectiveCapNames()));
        out.println("daemon capabilities on this node:");
        for (NodeFacts.CapabilityCheck c : f.capabilities()) {
            out.printf("  %-8s %-3s %s%n", c.name(), c.available() ? "yes" : "no", c.available() ? "" : c.reason());
        }
        return 0;
    }
}
