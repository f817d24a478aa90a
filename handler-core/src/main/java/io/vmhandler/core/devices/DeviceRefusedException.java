package io.vmhandler.core.devices;

import java.io.IOException;
import java.util.List;

/**
 * One or more of the pod's device nodes is not what it must be (a symlink, a regular file, a FIFO, a
 * wrong device number, the host's own node). Thrown before any node was changed. The messages name
 * nodes relative to the pod's root ("dev/kvm in the pod"), never host paths, so they may go to the
 * caller; being relative they also pass the gRPC boundary's masking of absolute paths.
 */
public final class DeviceRefusedException extends IOException {
    private final List<String> reasons;

    public DeviceRefusedException(List<String> reasons) {
        super("refused device node(s): " + String.join("; ", reasons));
        this.reasons = List.copyOf(reasons);
    }

    public List<String> reasons() {
        return reasons;
    }
}
