package io.vmhandler.cgroups;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Which cgroup hierarchies a node runs: only v1 controllers, only the unified (v2) hierarchy, or
 * hybrid (v1 controllers plus a cgroup2 mount, usually /sys/fs/cgroup/unified, as systemd's hybrid
 * mode and this machine kind have).
 */
public enum CgroupMode {
    V1, HYBRID, V2, NONE;

    /** Detects the mode from a mountinfo file (normally /proc/self/mountinfo or /proc/1/mountinfo). */
    public static CgroupMode detect(Path mountinfo) throws IOException {
        return fromMountinfo(Files.readAllLines(mountinfo));
    }

    /**
     * mountinfo lines: "36 35 98:0 / /sys/fs/cgroup/cpuset rw,... - cgroup cgroup rw,cpuset". The
     * filesystem type is the first field after the " - " separator.
     */
    public static CgroupMode fromMountinfo(List<String> lines) {
        boolean v1 = false;
        boolean v2 = false;
        for (String line : lines) {
            int sep = line.indexOf(" - ");
            if (sep < 0) {
                continue;
            }
            String[] after = line.substring(sep + 3).split(" ");
            if (after.length == 0) {
                continue;
            }
            if (after[0].equals("cgroup2")) {
                v2 = true;
            } else if (after[0].equals("cgroup")) {
                v1 = true;
            }
        }
        if (v1 && v2) {
            return HYBRID;
        }
        return v1 ? V1 : v2 ? V2 : NONE;
    }

    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
