package io.vmhandler.proc;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

/**
 * Facts about a process read from procfs: start time (field 22 of /proc/PID/stat, in clock ticks
 * since boot) and real uid/gid. The start time is what ties a pid to one process: a pid that is
 * reused gets a later start time.
 */
public record ProcessInfo(int pid, long startTime, long uid, long gid, String comm) {

    /** Reads /proc/PID/stat and /proc/PID/status. A process that is gone is a {@link ProcessGoneException}. */
    public static ProcessInfo read(Path procRoot, int pid) throws IOException {
        if (pid <= 0) {
            throw new IllegalArgumentException("pid must be > 0, got " + pid);
        }
        Path dir = procRoot.resolve(Integer.toString(pid));
        try {
            String stat = Files.readString(dir.resolve("stat"));
            long uid = -1;
            long gid = -1;
            for (String line : Files.readAllLines(dir.resolve("status"))) {
                if (line.startsWith("Uid:")) {
                    uid = Long.parseLong(line.substring(4).trim().split("\\s+")[0]);
                } else if (line.startsWith("Gid:")) {
                    gid = Long.parseLong(line.substring(4).trim().split("\\s+")[0]);
                }
            }
            return new ProcessInfo(pid, startTime(stat), uid, gid, comm(stat));
        } catch (NoSuchFileException e) {
            throw new ProcessGoneException(pid);
        }
    }

    /**
     * Field 22 of /proc/PID/stat. comm (field 2) is in parentheses and may itself contain spaces and
     * ')' — so parsing starts after the LAST ')' (proc(5)).
     */
    public static long startTime(String stat) {
        int close = stat.lastIndexOf(')');
        if (close < 0) {
            throw new IllegalArgumentException("malformed /proc stat line: " + stat);
        }
        String[] rest = stat.substring(close + 2).trim().split(" ");
        // rest[0] is field 3 (state); field 22 is rest[19]
        return Long.parseLong(rest[19]);
    }

    /** The comm field of a /proc stat line (between the first '(' and the last ')'). */
    public static String comm(String stat) {
        int open = stat.indexOf('(');
        int close = stat.lastIndexOf(')');
        return open >= 0 && close > open ? stat.substring(open + 1, close) : "";
    }

    /** The tids of a process, from /proc/PID/task. */
    public static List<Integer> threads(Path procRoot, int pid) throws IOException {
        try (var s = Files.list(procRoot.resolve(Integer.toString(pid)).resolve("task"))) {
            return s.map(p -> Integer.parseInt(p.getFileName().toString())).sorted().toList();
        } catch (NoSuchFileException e) {
            throw new ProcessGoneException(pid);
        }
    }
}
