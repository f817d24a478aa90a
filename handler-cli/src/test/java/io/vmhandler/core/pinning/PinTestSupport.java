package io.vmhandler.core.pinning;

import io.vmhandler.testing.HostCleanup;
import java.io.IOException;

/** Lets tests in other packages start a {@link PodQemu}. */
public final class PinTestSupport {
    private PinTestSupport() {}

    /** Starts a uid-107 QEMU in kubelet-named v1 cgroups with the given cpuset; returns its pid. */
    public static int startPodQemu(HostCleanup host, String path, String cpus, int vcpus) throws IOException {
        return PodQemu.start(host, path, cpus, vcpus, false).pid;
    }
}
