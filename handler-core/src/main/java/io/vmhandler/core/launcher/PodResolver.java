package io.vmhandler.core.launcher;

import java.io.IOException;
import java.util.Optional;

/**
 * pid → the UID of the Kubernetes pod it runs in, from the pid's cgroup path (kubelet names pod
 * cgroups after the pod UID for both the cgroupfs and systemd drivers). Empty for a process in no pod.
 */
@FunctionalInterface
public interface PodResolver {
    Optional<String> podUid(int pid) throws IOException;
}
