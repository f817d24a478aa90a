package io.vmhandler.cgroups;

import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Who a process belongs to, read from its cgroup path the way kubelet lays pods out
 * (kubernetes pkg/kubelet/cm/cgroup_manager_linux.go, pod_container_manager_linux.go):
 *
 * <pre>
 * cgroupfs: [/root]/kubepods[/burstable|/besteffort]/pod&lt;uid&gt;/&lt;container&gt;
 * systemd:  [/x.slice/x-]kubepods.slice[/kubepods-burstable.slice]/kubepods[-burstable]-pod&lt;uid_with_underscores&gt;.slice/&lt;runtime&gt;-&lt;id&gt;.scope
 * </pre>
 *
 * <p>The container component is {@code <64 hex>} (containerd or docker on cgroupfs), {@code crio-<id>}
 * (CRI-O on cgroupfs), or a scope {@code cri-containerd-<id>.scope}, {@code crio-<id>.scope},
 * {@code docker-<id>.scope} under systemd. crun may add a {@code container} leaf below the scope; it and
 * anything else below the container component are ignored.
 *
 * <p>The <em>outermost</em> {@code kubepods} component decides: a container that can create cgroups
 * can only do so below its own, so a forged {@code kubepods.../pod<other uid>} further down never wins.
 *
 * @param podUid the pod UID in its API (dashed) form
 * @param containerId the 64-hex container id, or null when the path stops at the pod (or is conmon's)
 * @param podPath the cgroup path of the pod level, e.g. {@code /kubepods/burstable/pod<uid>}
 */
public record PodIdentity(String podUid, QosClass qosClass, String containerId, ContainerRuntime runtime,
        CgroupDriver driver, String podPath) {

    private static final Pattern UID = Pattern.compile(
            "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}");
    private static final Pattern ID = Pattern.compile("[0-9a-f]{64}");
    private static final Pattern SCOPE = Pattern.compile("(cri-containerd|crio-conmon|crio|docker)-([0-9a-f]{64})\\.scope");

    /** Parses a cgroup path (as in /proc/PID/cgroup); empty when it is not inside a kubelet pod. */
    public static Optional<PodIdentity> fromCgroupPath(String path) {
        if (path == null || !path.startsWith("/")) {
            return Optional.empty();
        }
        List<String> c = List.of(CgroupPaths.stripHousekeeping(path).substring(1).split("/"));
        for (int i = 0; i < c.size(); i++) {
            String name = c.get(i);
            if (name.equals("kubepods")) {
                return cgroupfs(c, i);
            }
            if (name.equals("kubepods.slice") || name.endsWith("-kubepods.slice")) {
                return systemd(c, i);
            }
        }
        return Optional.empty();
    }

    private static Optional<PodIdentity> cgroupfs(List<String> c, int i) {
        int p = i + 1;
        QosClass qos = QosClass.GUARANTEED;
        if (p < c.size() && (c.get(p).equals("burstable") || c.get(p).equals("besteffort"))) {
            qos = c.get(p).equals("burstable") ? QosClass.BURSTABLE : QosClass.BESTEFFORT;
            p++;
        }
        if (p >= c.size() || !c.get(p).startsWith("pod") || !UID.matcher(c.get(p).substring(3)).matches()) {
            return Optional.empty();
        }
        String uid = c.get(p).substring(3);
        String podPath = "/" + String.join("/", c.subList(0, p + 1));
        String id = null;
        ContainerRuntime rt = ContainerRuntime.UNKNOWN;
        if (p + 1 < c.size()) {
            String leaf = c.get(p + 1);
            if (ID.matcher(leaf).matches()) {
                id = leaf;
            } else if (leaf.startsWith("crio-") && ID.matcher(leaf.substring(5)).matches()) {
                id = leaf.substring(5);
                rt = ContainerRuntime.CRIO;
            }
        }
        return Optional.of(new PodIdentity(uid, qos, id, rt, CgroupDriver.CGROUPFS, podPath));
    }

    /**
     * systemd names every slice after its full ancestry: {@code a.slice/a-b.slice/a-b-c.slice}
     * (systemd.slice(5)), so each level must start with the previous level's stem.
     */
    private static Optional<PodIdentity> systemd(List<String> c, int i) {
        String stem = stem(c.get(i));
        int p = i + 1;
        QosClass qos = QosClass.GUARANTEED;
        if (p < c.size() && (c.get(p).equals(stem + "-burstable.slice") || c.get(p).equals(stem + "-besteffort.slice"))) {
            qos = c.get(p).endsWith("-burstable.slice") ? QosClass.BURSTABLE : QosClass.BESTEFFORT;
            stem = stem(c.get(p));
            p++;
        }
        String prefix = stem + "-pod";
        if (p >= c.size() || !c.get(p).startsWith(prefix) || !c.get(p).endsWith(".slice")) {
            return Optional.empty();
        }
        String escaped = c.get(p).substring(prefix.length(), c.get(p).length() - ".slice".length());
        // systemd cannot have '-' inside a unit name component, so kubelet writes the UID's dashes as '_'
        String uid = escaped.replace('_', '-');
        if (escaped.contains("-") || !UID.matcher(uid).matches()) {
            return Optional.empty();
        }
        String podPath = "/" + String.join("/", c.subList(0, p + 1));
        String id = null;
        ContainerRuntime rt = ContainerRuntime.UNKNOWN;
        if (p + 1 < c.size()) {
            Matcher m = SCOPE.matcher(c.get(p + 1));
            if (m.matches()) {
                rt = switch (m.group(1)) {
                    case "cri-containerd" -> ContainerRuntime.CONTAINERD;
                    case "docker" -> ContainerRuntime.DOCKER;
                    default -> ContainerRuntime.CRIO;
                };
                // conmon is CRI-O's monitor process, not the container: it carries no container id
                id = m.group(1).equals("crio-conmon") ? null : m.group(2);
            }
        }
        return Optional.of(new PodIdentity(uid, qos, id, rt, CgroupDriver.SYSTEMD, podPath));
    }

    private static String stem(String slice) {
        return slice.substring(0, slice.length() - ".slice".length());
    }
}
