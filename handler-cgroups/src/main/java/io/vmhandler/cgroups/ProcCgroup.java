package io.vmhandler.cgroups;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The lines of {@code /proc/PID/cgroup}: {@code hierarchy-id:controller-list:path} (cgroups(7)).
 * A v1 hierarchy has a non-zero id and its controllers ({@code cpuset}, {@code cpu,cpuacct},
 * {@code name=systemd}); the unified v2 hierarchy is the single line {@code 0::/path}.
 *
 * <p>The kernel prints cgroup names unescaped, so a process allowed to create cgroups could put a
 * newline in a name and forge an extra line. Parsing is therefore strict: every line must have the
 * three fields with a numeric id, and a hierarchy id that appears twice makes the whole file
 * ambiguous and rejected.
 */
public record ProcCgroup(int pid, List<Entry> entries) {
    /** One hierarchy of the process. {@code controllers} is empty for the v2 line. */
    public record Entry(int hierarchyId, List<String> controllers, String path) {
        public boolean unified() {
            return hierarchyId == 0 && controllers.isEmpty();
        }

        /** The key a {@link CgroupInfo} uses: the controller list as printed, or {@code unified}. */
        public String key() {
            return unified() ? CgroupInfo.UNIFIED : String.join(",", controllers);
        }

        public boolean has(String controller) {
            return controllers.contains(controller);
        }
    }

    public ProcCgroup {
        entries = List.copyOf(entries);
    }

    /** Reads {@code procRoot/PID/cgroup}; a missing file means the process does not exist. */
    public static ProcCgroup read(Path procRoot, int pid) throws IOException {
        Path file = procRoot.resolve(Integer.toString(pid)).resolve("cgroup");
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new NoSuchFileException(file.toString(), null, "pid " + pid + " does not exist");
        }
        return parse(pid, text);
    }

    public static ProcCgroup parse(int pid, String text) throws IOException {
        List<Entry> out = new ArrayList<>();
        Set<Integer> ids = new HashSet<>();
        for (String line : text.split("\n")) {
            if (line.isEmpty()) {
                continue;
            }
            String[] f = line.split(":", 3);
            if (f.length != 3 || f[0].isEmpty() || !f[0].chars().allMatch(Character::isDigit) || f[0].length() > 6) {
                throw new IOException("/proc/" + pid + "/cgroup: malformed line '" + line + "'");
            }
            int id = Integer.parseInt(f[0]);
            if (!ids.add(id)) {
                throw new IOException("/proc/" + pid + "/cgroup: hierarchy " + id
                        + " appears twice; refusing an ambiguous cgroup membership");
            }
            List<String> controllers = f[1].isEmpty() ? List.of() : List.of(f[1].split(","));
            if (id == 0 && !controllers.isEmpty()) {
                throw new IOException("/proc/" + pid + "/cgroup: hierarchy 0 lists controllers '" + f[1] + "'");
            }
            out.add(new Entry(id, controllers, f[2]));
        }
        if (out.isEmpty()) {
            throw new IOException("/proc/" + pid + "/cgroup is empty");
        }
        return new ProcCgroup(pid, out);
    }

    /** The v1 hierarchy that carries {@code controller}, if any. */
    public Optional<Entry> controller(String controller) {
        return entries.stream().filter(e -> e.has(controller)).findFirst();
    }

    /** The v2 line, if the process has one (v2 and hybrid nodes). */
    public Optional<Entry> unified() {
        return entries.stream().filter(Entry::unified).findFirst();
    }
}
