package io.vmhandler.cgroups.v2;

import io.vmhandler.cgroups.CgroupInfo;
import io.vmhandler.cgroups.ThreadMovingCgroupManager;
import io.vmhandler.cgroups.CgroupResolver;
import io.vmhandler.cgroups.CgroupTree;
import io.vmhandler.cgroups.CgroupVersion;
import io.vmhandler.cgroups.Housekeeping;
import io.vmhandler.cgroups.ProcCgroup;
import io.vmhandler.nativeio.CpuSet;
import java.io.IOException;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * cgroup v2: the unified hierarchy at the root itself (pure v2) or at {@code root/unified} (a
 * hybrid node). The housekeeping child is a <em>threaded</em> cgroup, because v2 otherwise moves
 * whole processes only: writing {@code threaded} to its {@code cgroup.type} turns the container
 * cgroup into the threaded domain, and single threads then move with {@code cgroup.threads}
 * (Documentation/admin-guide/cgroup-v2.rst, "Threads"). cpuset is a threaded controller, so it may be
 * enabled in the container's {@code cgroup.subtree_control} although the container holds
 * processes. When the container has no cpuset controller at all, the child still groups the
 * threads and the result says so.
 */
public final class V2CgroupManager extends ThreadMovingCgroupManager {
    private static final Logger log = LoggerFactory.getLogger(V2CgroupManager.class);
    private final Path procRoot;
    private final CgroupTree tree;

    /**
     * @param root the cgroup root (/sys/fs/cgroup)
     * @param hierarchy "" when the root is the cgroup2 mount, "unified" on a hybrid node
     * @param procRoot normally /proc
     */
    public V2CgroupManager(Path root, String hierarchy, Path procRoot) {
        this.procRoot = procRoot;
        this.tree = new CgroupTree(root, hierarchy);
    }

    @Override
    public CgroupVersion version() {
        return CgroupVersion.V2;
    }

    @Override
    public CgroupTree tree() {
        return tree;
    }

    @Override
    public CgroupInfo resolve(int pid) throws IOException {
        ProcCgroup pc = ProcCgroup.read(procRoot, pid);
        ProcCgroup.Entry e = pc.unified().orElseThrow(() -> new IOException("/proc/" + pid
                + "/cgroup has no cgroup v2 line (0::/path)"));
        return CgroupResolver.build(pc, CgroupVersion.V2, e);
    }

    @Override
    public BitSet cpuset(CgroupInfo info) throws IOException {
        String path = info.containerPath();
        String what = tree.describe(path) + "/cpuset.cpus.effective";
        if (!tree.exists(path, "cpuset.cpus.effective")) {
            throw new IOException(what + " does not exist: the cpuset controller is not enabled for this cgroup"
                    + " (cgroup.controllers: '" + controllers(path) + "')");
        }
        BitSet cpus = CgroupResolver.cpus(tree.read(path, "cpuset.cpus.effective"), what);
        if (cpus.isEmpty()) {
            throw new IOException(what + " is empty");
        }
        return cpus;
    }

    @Override
    public Housekeeping ensureHousekeeping(CgroupInfo info, BitSet cpus) throws IOException {
        String container = info.containerPath();
        String hk = info.housekeepingPath();
        String controllers = controllers(container);
        boolean hasCpuset = Set.of(controllers.split("\\s+")).contains("cpuset");
        if (hasCpuset) {
            CgroupResolver.requireSubset(cpus, cpuset(info), "the cpuset of " + tree.describe(container));
        } else if (cpus.isEmpty()) {
            throw new IllegalArgumentException("housekeeping cpus: the set is empty");
        }
        boolean created = tree.mkdir(hk);
        if (!tree.read(hk, "cgroup.type").trim().equals("threaded")) {
            tree.write(hk, "cgroup.type", "threaded");
        }
        Optional<BitSet> applied = Optional.empty();
        Optional<String> note = Optional.empty();
        if (hasCpuset) {
            if (!Set.of(tree.read(container, "cgroup.subtree_control").trim().split("\\s+")).contains("cpuset")) {
                tree.write(container, "cgroup.subtree_control", "+cpuset");
            }
            tree.write(hk, "cpuset.cpus", CpuSet.formatList(cpus));
            applied = Optional.of(cpus);
        } else {
            note = Optional.of("no cpuset controller in " + tree.describe(container) + " (cgroup.controllers: '"
                    + controllers + "'): the threaded housekeeping cgroup groups the threads; affinity confines them");
        }
        log.atInfo().addKeyValue("pid", info.pid()).addKeyValue("cgroup", tree.describe(hk))
                .addKeyValue("cpus", applied.map(CpuSet::formatList).orElse("-")).addKeyValue("created", created)
                .log("threaded housekeeping cgroup ready");
        return new Housekeeping(hk, created, applied, note);
    }

    @Override
    protected String threadsFile() {
        return "cgroup.threads";
    }

    private String controllers(String path) throws IOException {
        return tree.exists(path, "cgroup.controllers") ? tree.read(path, "cgroup.controllers").trim() : "";
    }
}
