package io.vmhandler.core.launcher;

import io.vmhandler.cgroups.CgroupManager;
import io.vmhandler.proc.ProcessGoneException;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.util.Optional;

/** {@link PodResolver} over the node's cgroups: /proc/PID/cgroup → kubelet pod cgroup → pod UID. */
public final class CgroupPodResolver implements PodResolver {
    private final CgroupManager cgroups;

    public CgroupPodResolver(CgroupManager cgroups) {
        this.cgroups = cgroups;
    }

    @Override
    public Optional<String> podUid(int pid) throws IOException {
        try {
            return cgroups.resolve(pid).podUid();
        } catch (NoSuchFileException e) {
            throw new ProcessGoneException(pid);
        }
    }
}
