package io.vmhandler.grpc;

import java.util.List;
import java.util.Objects;

/**
 * What PrepareDevices did.
 *
 * @param granted the device nodes now owned by the caller
 * @param skipped nodes left alone, and why
 * @param sysctls the pod netns's sysctls as found and as left
 */
public record DevicesResult(List<Granted> granted, List<Skipped> skipped, List<Sysctl> sysctls) {
    /** A node in the pod ("/dev/kvm"), the number it was checked to have ("10:232"), and whether this call changed it. */
    public record Granted(String path, String device, boolean changed) {
        public Granted {
            Objects.requireNonNull(path, "path");
            Objects.requireNonNull(device, "device");
        }
    }

    public record Sysctl(String name, String before, String after) {
        public Sysctl {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(before, "before");
            Objects.requireNonNull(after, "after");
        }
    }

    public DevicesResult {
        granted = List.copyOf(granted);
        skipped = List.copyOf(skipped);
        sysctls = List.copyOf(sysctls);
    }
}
