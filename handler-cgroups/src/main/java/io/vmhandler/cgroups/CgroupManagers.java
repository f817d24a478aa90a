package io.vmhandler.cgroups;

import io.vmhandler.cgroups.v1.V1CgroupManager;
import io.vmhandler.cgroups.v2.V2CgroupManager;
import java.io.IOException;
import java.nio.file.Path;

/** Picks the manager for a node from what its cgroup root holds. */
public final class CgroupManagers {
    private CgroupManagers() {}

    /**
     * A root holding {@code cgroup.controllers} is a cgroup2 mount (pure v2). Otherwise a
     * {@code cpuset} directory means v1 controllers, and on a hybrid node the cpuset controller is
     * still v1, so the v1 manager is used (runc's IsCgroup2UnifiedMode is false there too). A root
     * with only {@code unified} gets the v2 manager on it.
     *
     * @param root /sys/fs/cgroup on the host, /proc/1/root/sys/fs/cgroup from a pod
     */
    public static CgroupManager detect(Path root, Path procRoot) throws IOException {
        CgroupTree top = new CgroupTree(root, "");
        if (!top.available()) {
            throw new IOException("cgroup root " + root + " cannot be opened");
        }
        if (top.exists("/", "cgroup.controllers")) {
            return new V2CgroupManager(root, "", procRoot);
        }
        if (new CgroupTree(root, "cpuset").available()) {
            return new V1CgroupManager(root, procRoot);
        }
        if (new CgroupTree(root, "unified").available()) {
            return new V2CgroupManager(root, "unified", procRoot);
        }
        throw new IOException("cgroup root " + root + " holds neither a cgroup2 mount nor a cpuset hierarchy");
    }
}
