package io.vmhandler.cli;

import io.vmhandler.core.json.Json;
import io.vmhandler.cgroups.CgroupInfo;
import io.vmhandler.cgroups.CgroupManager;
import io.vmhandler.cgroups.CgroupManagers;
import io.vmhandler.cgroups.PodIdentity;
import io.vmhandler.nativeio.CpuSet;
import io.vmhandler.proc.ProcFs;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/** {@code vmhandler cgroup --pid PID [--json]}: what vmhandler resolves for a process's cgroups. */
public final class CgroupCommand implements Command {
    /** PID_MAX_LIMIT on 64-bit kernels (include/linux/threads.h). */
    static final long PID_MAX = 4_194_304L;
    /** Overrides the cgroup root, e.g. /proc/1/root/sys/fs/cgroup when running in a pod. */
    public static final String ROOT_ENV = "VMHANDLER_CGROUP_ROOT";

    private final Supplier<CgroupManager> cgroups;

    public CgroupCommand(Supplier<CgroupManager> cgroups) {
        this.cgroups = cgroups;
    }

    /** The manager for this node, under {@code root} (null: /sys/fs/cgroup), reading /proc. */
    public static CgroupManager hostManager(String root) {
        return hostManager(root, ProcFs.DEFAULT_ROOT);
    }

    /** The manager for this node, under {@code root} (null: /sys/fs/cgroup), reading {@code procRoot}. */
    public static CgroupManager hostManager(String root, Path procRoot) {
        try {
            return CgroupManagers.detect(Path.of(root == null || root.isBlank() ? "/sys/fs/cgroup" : root), procRoot);
        } catch (IOException e) {
            throw new UncheckedIOException(e.getMessage(), e);
        }
    }

    @Override
    public String name() {
        return "cgroup";
    }

    @Override
    public String summary() {
        return "show a process's cgroup version, paths, pod UID, container id and cpuset";
    }

    @Override
    public String usage() {
        return """
                usage: vmhandler cgroup --pid PID [--json]
                  --pid   the process, 1..4194304 (in vmhandler's pid namespace)
                prints the cgroup version vmhandler manages (v1 cpuset, or v2), the path in every hierarchy
                from /proc/PID/cgroup, the container cgroup, the pod UID, QoS class, container id and
                runtime (kubelet cgroupfs and systemd drivers), and the container's cpuset.
                The cgroup root is /sys/fs/cgroup, or $VMHANDLER_CGROUP_ROOT (e.g. /proc/1/root/sys/fs/cgroup).
                """;
    }

    @Override
    public int run(List<String> argv, PrintStream out, PrintStream err) throws Exception {
        Args a = Args.parse(argv, Set.of("pid"), Set.of("json"));
        if (!a.positionals().isEmpty()) {
            throw new UsageException("unexpected argument '" + a.positionals().get(0) + "'");
        }
        int pid = a.intValue("pid", 1, PID_MAX);
        CgroupManager m = cgroups.get();
        CgroupInfo info = m.resolve(pid);
        String cpuset = null;
        String cpusetError = null;
        try {
            cpuset = CpuSet.formatList(m.cpuset(info));
        } catch (IOException e) {
            cpusetError = e.getMessage();
        }
        if (a.flag("json")) {
            out.println(Json.write(facts(info, m, cpuset, cpusetError)));
            return 0;
        }
        out.printf("pid:          %d%n", pid);
        out.printf("version:      %s%n", info.version().label());
        out.println("paths:");
        info.paths().forEach((k, v) -> out.printf("  %-13s %s%n", k, v));
        out.printf("container:    %s (%s)%n", info.containerPath(), m.tree().describe(info.containerPath()));
        if (info.pod().isPresent()) {
            PodIdentity p = info.pod().get();
            out.printf("pod UID:      %s%n", p.podUid());
            out.printf("QoS class:    %s%n", p.qosClass().label());
            out.printf("container id: %s%n", p.containerId() == null ? "none" : p.containerId());
            out.printf("runtime:      %s (%s driver)%n", p.runtime().label(), p.driver().label());
        } else {
            out.println("pod UID:      none (not a kubelet pod cgroup)");
        }
        out.printf("cpuset:       %s%n", cpuset != null ? cpuset : "unavailable: " + cpusetError);
        return 0;
    }

    static Map<String, Object> facts(CgroupInfo info, CgroupManager m, String cpuset, String cpusetError) {
        Map<String, Object> j = new LinkedHashMap<>();
        j.put("pid", info.pid());
        j.put("version", info.version().label());
        j.put("paths", info.paths());
        j.put("containerPath", info.containerPath());
        j.put("cgroupDir", m.tree().describe(info.containerPath()));
        PodIdentity p = info.pod().orElse(null);
        j.put("podUid", p == null ? null : p.podUid());
        j.put("qosClass", p == null ? null : p.qosClass().label());
        j.put("containerId", p == null ? null : p.containerId());
        j.put("runtime", p == null ? null : p.runtime().label());
        j.put("driver", p == null ? null : p.driver().label());
        j.put("podPath", p == null ? null : p.podPath());
        j.put("cpuset", cpuset);
        if (cpusetError != null) {
            j.put("cpusetError", cpusetError);
        }
        return j;
    }
}
