package io.vmhandler.proc;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * Facts about a process read from procfs: start time (field 22 of /proc/PID/stat, in clock ticks
 * since boot), real uid/gid and comm. The start time is what ties a pid to one process: a pid that
 * is reused gets a later start time.
 */
public record ProcessInfo(int pid, long startTime, long uid, long gid, String comm) {

    /** Reads /proc/PID/stat and /proc/PID/status. A process that is gone is a {@link ProcessGoneException}. */
    public static ProcessInfo read(ProcFs proc, int pid) throws IOException {
        if (pid <= 0) {
            throw new IllegalArgumentException("pid must be > 0, got " + pid);
        }
        ProcStat stat = proc.stat(pid);
        ProcStatus status = proc.status(pid);
        return new ProcessInfo(pid, stat.startTime(), status.uids().real(), status.gids().real(), stat.comm());
    }

    public static ProcessInfo read(Path procRoot, int pid) throws IOException {
        return read(new ProcFs(procRoot), pid);
    }

    /** Field 22 of a /proc stat line (see {@link ProcStat}: counted from the LAST ')'). */
    public static long startTime(String stat) {
        return parse(stat).startTime();
    }

    /** The comm field of a /proc stat line (between the first '(' and the last ')'). */
    public static String comm(String stat) {
        return parse(stat).comm();
    }

    private static ProcStat parse(String stat) {
        try {
            return ProcStat.parse(stat, "stat line");
        } catch (IOException e) {
            throw new IllegalArgumentException("malformed /proc " + e.getMessage(), e);
        }
    }

    /** The tids of a process, from /proc/PID/task. */
    public static List<Integer> threads(Path procRoot, int pid) throws IOException {
        return new ProcFs(procRoot).tasks(pid);
    }
}
