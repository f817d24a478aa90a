package io.vmhandler.cgroups;

import io.vmhandler.proc.CgroupLine;
import io.vmhandler.proc.ProcFs;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * A process's cgroup membership, as handler-cgroups works with it: the lines of
 * {@code /proc/PID/cgroup} ({@code hierarchy-id:controller-list:path}, cgroups(7)) as read and
 * strictly parsed by handler-proc's {@link CgroupLine} (a forged or repeated hierarchy line is
 * rejected there), plus what they mean here: the v2 line, the v1 hierarchy of a controller, the key
 * a {@link CgroupInfo} uses.
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

    /**
     * Reads {@code procRoot/PID/cgroup} through handler-proc, the one reader and parser of /proc files;
     * a process that is gone is its {@code ProcessGoneException} (a {@code NoSuchFileException}).
     */
    public static ProcCgroup read(Path procRoot, int pid) throws IOException {
        return of(pid, new ProcFs(procRoot).cgroup(pid));
    }

    /** Parses the text of a /proc/PID/cgroup file (handler-proc's strict parser). */
    public static ProcCgroup parse(int pid, String text) throws IOException {
        return of(pid, CgroupLine.parse(text, "/proc/" + pid + "/cgroup"));
    }

    private static ProcCgroup of(int pid, List<CgroupLine> lines) {
        return new ProcCgroup(pid, lines.stream().map(l -> new Entry(l.hierarchyId(), l.controllers(), l.path())).toList());
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
