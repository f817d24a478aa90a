package io.vmhandler.cgroups.v1;

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
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * cgroup v1 (and hybrid nodes, where cpuset is still a v1 controller, as runc and KubeVirt treat
 * them): works in the {@code cpuset} hierarchy under {@code root/cpuset}.
 *
 * <p>A new v1 cpuset starts with empty {@code cpuset.cpus} and {@code cpuset.mems}, and the kernel
 * refuses to attach a task to it until both are set (ENOSPC; Documentation/admin-guide/cgroup-v1/
 * cpusets.rst §1.4 and §2.1), so the housekeeping child gets the parent's mems first. Writing a tid to
 * {@code tasks} moves that one thread; {@code cgroup.procs} would move the whole process
 * (cgroup-v1/cgroups.rst §2.2). Attaching a thread to a cpuset also resets its affinity to that
 * cpuset, which is why callers move threads before they set affinity.
 */
public final class V1CgroupManager extends ThreadMovingCgroupManager {
    private static final Logger log = LoggerFactory.getLogger(V1CgroupManager.class);
    private final Path procRoot;
    private final CgroupTree cpuset;

    /**
     * @param root the cgroup root holding one directory per v1 hierarchy (/sys/fs/cgroup)
     * @param procRoot normally /proc
     */
    public V1CgroupManager(Path root, Path procRoot) {
        this.procRoot = procRoot;
        this.cpuset = new CgroupTree(root, "cpuset");
    }

    @Override
    public CgroupVersion version() {
        return CgroupVersion.V1;
    }

    @Override
    public CgroupTree tree() {
        return cpuset;
    }

    @Override
    public CgroupInfo resolve(int pid) throws IOException {
        ProcCgroup pc = ProcCgroup.read(procRoot, pid);
        ProcCgroup.Entry e = pc.controller("cpuset").orElseThrow(() -> new IOException("/proc/" + pid
                + "/cgroup has no cpuset hierarchy: the cgroup v1 cpuset controller is not mounted"));
        if (!e.key().equals("cpuset")) {
            throw new IOException("/proc/" + pid + "/cgroup: cpuset is co-mounted as '" + e.key()
                    + "'; only a separate cpuset hierarchy (" + cpuset.describe("/") + ") is supported");
        }
        return CgroupResolver.build(pc, CgroupVersion.V1, e);
    }

    @Override
    public BitSet cpuset(CgroupInfo info) throws IOException {
        String what = cpuset.describe(info.containerPath()) + "/cpuset.cpus";
        BitSet cpus = CgroupResolver.cpus(cpuset.read(info.containerPath(), "cpuset.cpus"), what);
        if (cpus.isEmpty()) {
            throw new IOException(what + " is empty");
        }
        return cpus;
    }

    @Override
    public Housekeeping ensureHousekeeping(CgroupInfo info, BitSet cpus) throws IOException {
        CgroupResolver.requireSubset(cpus, cpuset(info), "the cpuset of " + cpuset.describe(info.containerPath()));
        String hk = info.housekeepingPath();
        boolean created = cpuset.mkdir(hk);
        String mems = cpuset.read(info.containerPath(), "cpuset.mems").trim();
        if (mems.isEmpty()) {
            throw new IOException(cpuset.describe(info.containerPath()) + "/cpuset.mems is empty");
        }
        cpuset.write(hk, "cpuset.mems", mems);
        cpuset.write(hk, "cpuset.cpus", CpuSet.formatList(cpus));
        log.atInfo().addKeyValue("pid", info.pid()).addKeyValue("cgroup", cpuset.describe(hk))
                .addKeyValue("cpus", CpuSet.formatList(cpus)).addKeyValue("mems", mems).addKeyValue("created", created)
                .log("housekeeping cpuset ready");
        return new Housekeeping(hk, created, Optional.of(cpus), Optional.empty());
    }

    @Override
    protected String threadsFile() {
        return "tasks";
    }
}
