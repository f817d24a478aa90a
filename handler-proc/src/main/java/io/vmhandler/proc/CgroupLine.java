package io.vmhandler.proc;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * One line of {@code /proc/PID/cgroup}: {@code hierarchy-id:controller-list:path} (cgroups(7)). A v1
 * hierarchy has a non-zero id and its controllers ({@code cpuset}, {@code cpu,cpuacct},
 * {@code name=systemd}); the unified v2 hierarchy is the single line {@code 0::/path}.
 *
 * <p>The kernel prints cgroup names unescaped, so a process allowed to create cgroups could put a
 * newline in a name and forge an extra line. Parsing is therefore strict: every line must have the
 * three fields with a numeric id, and a hierarchy id that appears twice makes the whole file
 * ambiguous and rejected. What the lines mean (pod identity, cpusets) is handler-cgroups' business.
 */
public record CgroupLine(int hierarchyId, List<String> controllers, String path) {
    public CgroupLine {
        controllers = List.copyOf(controllers);
    }

    /** Parses the whole file; {@code origin} names it in errors (e.g. /proc/42/cgroup). */
    public static List<CgroupLine> parse(String text, String origin) throws IOException {
        List<CgroupLine> out = new ArrayList<>();
        Set<Integer> ids = new HashSet<>();
        for (String line : text.split("\n")) {
            if (line.isEmpty()) {
                continue;
            }
            String[] f = line.split(":", 3);
            if (f.length != 3 || f[0].isEmpty() || !f[0].chars().allMatch(Character::isDigit) || f[0].length() > 6) {
                throw new IOException(origin + ": malformed line '" + line + "'");
            }
            int id = Integer.parseInt(f[0]);
            if (!ids.add(id)) {
                throw new IOException(origin + ": hierarchy " + id
                        + " appears twice; refusing an ambiguous cgroup membership");
            }
            List<String> controllers = f[1].isEmpty() ? List.of() : List.of(f[1].split(","));
            if (id == 0 && !controllers.isEmpty()) {
                throw new IOException(origin + ": hierarchy 0 lists controllers '" + f[1] + "'");
            }
            out.add(new CgroupLine(id, controllers, f[2]));
        }
        if (out.isEmpty()) {
            throw new IOException(origin + " is empty");
        }
        return List.copyOf(out);
    }
}
