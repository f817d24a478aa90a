package io.vmhandler.cgroups;

import io.vmhandler.nativeio.SyscallException;
import java.io.IOException;
import java.util.List;
import jnr.constants.platform.Errno;

/**
 * The thread moves both hierarchies share: v1 and v2 differ only in the per-thread file they write
 * ({@code tasks} in a v1 cpuset, {@code cgroup.threads} in a v2 threaded cgroup).
 */
public abstract class ThreadMovingCgroupManager implements CgroupManager {
    /** The file that lists, and accepts, thread ids in this hierarchy. */
    protected abstract String threadsFile();

    @Override
    public void moveToHousekeeping(CgroupInfo info, int tid) throws IOException {
        tree().write(info.housekeepingPath(), threadsFile(), Integer.toString(tid));
    }

    @Override
    public void moveToContainer(CgroupInfo info, int tid) throws IOException {
        tree().write(info.containerPath(), threadsFile(), Integer.toString(tid));
    }

    @Override
    public List<Integer> threads(CgroupInfo info, boolean housekeeping) throws IOException {
        String path = housekeeping ? info.housekeepingPath() : info.containerPath();
        return CgroupResolver.ids(tree().read(path, threadsFile()), tree().describe(path) + "/" + threadsFile());
    }

    /** Moves every thread back to the container cgroup (gone ones are skipped), then removes the child. */
    @Override
    public boolean removeHousekeeping(CgroupInfo info) throws IOException {
        String hk = info.housekeepingPath();
        if (!tree().exists(hk, "")) {
            return false;
        }
        for (int tid : threads(info, true)) {
            try {
                moveToContainer(info, tid);
            } catch (SyscallException e) {
                if (e.errno() != Errno.ESRCH) {
                    throw e;
                }
            }
        }
        return tree().rmdir(hk);
    }
}
