package io.vmhandler.proc;

import io.vmhandler.nativeio.LinuxConstants;
import io.vmhandler.nativeio.RLimit;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code /proc/PID/limits}: one row per resource, readable even where prlimit(2) on another uid's
 * process is refused (libvirt's {@code virProcessGetLimit} falls back to it for the same reason).
 * The kernel prints each row as {@code "%-25s %-20s %-20s %-10s"} (fs/proc/base.c proc_pid_limits,
 * https://github.com/torvalds/linux/blob/master/fs/proc/base.c): the name is the first 25 columns and
 * may hold spaces ("Max locked memory"), then soft, hard ({@code unlimited} or a number) and units.
 */
public record ProcLimits(String origin, Map<String, RLimit> rows) {
    public static final String MEMLOCK = "Max locked memory";
    private static final int NAME_WIDTH = 25;

    public ProcLimits {
        rows = Map.copyOf(rows);
    }

    public static ProcLimits parse(String text, String origin) throws IOException {
        Map<String, RLimit> rows = new LinkedHashMap<>();
        for (String line : text.split("\n")) {
            if (line.isBlank() || line.startsWith("Limit ")) {
                continue;
            }
            if (line.length() <= NAME_WIDTH) {
                throw new IOException(origin + ": row '" + line.strip() + "' has no soft and hard values");
            }
            String name = line.substring(0, NAME_WIDTH).strip();
            String[] f = line.substring(NAME_WIDTH).strip().split("\\s+");
            if (f.length < 2) {
                throw new IOException(origin + ": row '" + name + "' has no hard value");
            }
            rows.put(name, new RLimit(value(f[0], name, origin), value(f[1], name, origin)));
        }
        return new ProcLimits(origin, rows);
    }

    /** One row by its name as the kernel prints it, e.g. {@link #MEMLOCK}. */
    public RLimit row(String name) throws IOException {
        RLimit r = rows.get(name);
        if (r == null) {
            throw new IOException(origin + " has no '" + name + "' row");
        }
        return r;
    }

    public RLimit memlock() throws IOException {
        return row(MEMLOCK);
    }

    private static long value(String v, String name, String origin) throws IOException {
        if (v.equals("unlimited")) {
            return LinuxConstants.RLIM_INFINITY;
        }
        try {
            return Long.parseUnsignedLong(v);
        } catch (NumberFormatException e) {
            throw new IOException(origin + ": row '" + name + "' has value '" + v + "', not a number or unlimited");
        }
    }
}
