package io.vmhandler.core.node;

import static io.vmhandler.nativeio.LinuxConstants.CAP_NET_ADMIN;
import static io.vmhandler.nativeio.LinuxConstants.CAP_SYS_ADMIN;
import static io.vmhandler.nativeio.LinuxConstants.CAP_SYS_NICE;
import static io.vmhandler.nativeio.LinuxConstants.CAP_SYS_RESOURCE;

import io.vmhandler.cgroups.CgroupMode;
import io.vmhandler.core.node.NodeFacts.CapabilityCheck;
import io.vmhandler.nativeio.NativeSupport;
import io.vmhandler.proc.ProcFs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Collects {@link NodeFacts} from a host root: "/" for the host itself, or "/proc/1/root" when the
 * daemon runs in a pod with hostPID. Paths under the root are read, never written.
 */
public final class NodeProbe {
    private final Path root;
    private final ProcFs proc;

    public NodeProbe(Path root) {
        this(root, ProcFs.host());
    }

    /**
     * @param root the host's root, whose files describe the node
     * @param proc this process's procfs, whose {@code self/status} gives the daemon's own capabilities
     */
    public NodeProbe(Path root, ProcFs proc) {
        this.root = root;
        this.proc = proc;
    }

    public NodeFacts probe() {
        String kernel = read("proc/sys/kernel/osrelease", "unknown");
        boolean tun = Files.exists(root.resolve("dev/net/tun"));
        boolean kvm = Files.exists(root.resolve("dev/kvm"));
        String cgroup;
        try {
            cgroup = CgroupMode.detect(new ProcFs(root.resolve("proc")), 1).label();
        } catch (IOException e) {
            cgroup = "unknown (" + e.getMessage() + ")";
        }
        String selinux = selinuxMode();
        long caps = effectiveCaps();
        boolean nativeOk = NativeSupport.isAvailable();
        String nativeErr = nativeOk ? null : String.valueOf(NativeSupport.unavailabilityCause());

        List<CapabilityCheck> checks = new ArrayList<>();
        checks.add(need("taps", nativeOk, tun, caps, new int[] {CAP_NET_ADMIN, CAP_SYS_ADMIN},
                tun ? null : "/dev/net/tun is missing"));
        checks.add(need("memlock", nativeOk, true, caps, new int[] {CAP_SYS_RESOURCE}, null));
        checks.add(need("pinning", nativeOk, true, caps, new int[] {CAP_SYS_NICE}, null));
        checks.add(need("cgroups", nativeOk, !cgroup.equals("none"), caps, new int[] {CAP_SYS_ADMIN},
                "no cgroup filesystem is mounted"));
        if (selinux.equals("disabled")) {
            checks.add(new CapabilityCheck("selinux", false, "not needed: SELinux is disabled on this node"));
        } else {
            checks.add(need("selinux", nativeOk, true, caps, new int[] {CAP_SYS_ADMIN}, null));
        }
        return new NodeFacts(kernel, tun, kvm, cgroup, selinux, caps, nativeOk, nativeErr, checks);
    }

    private static CapabilityCheck need(String name, boolean nativeOk, boolean resource, long caps, int[] bits,
                                        String resourceReason) {
        if (!nativeOk) {
            return new CapabilityCheck(name, false, "the native library did not load");
        }
        if (!resource) {
            return new CapabilityCheck(name, false, resourceReason);
        }
        List<String> missing = new ArrayList<>();
        for (int b : bits) {
            if (!Capabilities.has(caps, b)) {
                missing.add(Capabilities.name(b));
            }
        }
        if (!missing.isEmpty()) {
            return new CapabilityCheck(name, false, String.join(", ", missing) + " missing from the effective set"
                    + ("memlock".equals(name) ? ": RLIMIT_MEMLOCK can be lowered but never raised" : ""));
        }
        return new CapabilityCheck(name, true, "ok");
    }

    private String selinuxMode() {
        Path fs = root.resolve("sys/fs/selinux");
        Path enforce = fs.resolve("enforce");
        if (!Files.exists(enforce)) {
            return "disabled";
        }
        String v = read("sys/fs/selinux/enforce", "");
        return v.trim().equals("1") ? "enforcing" : "permissive";
    }

    private long effectiveCaps() {
        try {
            return proc.selfStatus().capEff();
        } catch (IOException e) {
            return 0;
        }
    }

    private String read(String rel, String fallback) {
        try {
            return Files.readString(root.resolve(rel)).trim();
        } catch (IOException e) {
            return fallback;
        }
    }
}
