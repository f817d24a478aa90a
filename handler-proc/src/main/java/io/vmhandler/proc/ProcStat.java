package io.vmhandler.proc;

import java.io.IOException;

/**
 * The fields of {@code /proc/PID/stat} (or {@code task/TID/stat}) the daemon uses (proc(5)): comm
 * (field 2), state (3), ppid (4), utime and stime (14, 15: CPU time in clock ticks) and starttime
 * (22, clock ticks since boot). A pid that is reused gets
 * a later start time, which is what ties a pid to one process.
 *
 * <p>comm is chosen by the process (prctl PR_SET_NAME, /proc/PID/comm) and may hold spaces and
 * parentheses, e.g. {@code a) S 1 (b}: it is everything between the first '(' and the LAST ')', and
 * the numbered fields are counted from that last ')'.
 */
public record ProcStat(int pid, String comm, char state, int ppid, long utime, long stime, long startTime) {
    /** Fields after comm: state is field 3, so field N is at index N - 3; starttime is the last used. */
    private static final int STARTTIME = 22 - 3;

    /** Parses one stat line; {@code origin} names the file in errors. */
    public static ProcStat parse(String text, String origin) throws IOException {
        int open = text.indexOf(" (");
        int close = text.lastIndexOf(')');
        if (open <= 0 || close < open) {
            throw new IOException(origin + ": no '(comm)' field in '" + text.strip() + "'");
        }
        String[] f = text.substring(close + 1).trim().split(" ");
        if (f.length <= STARTTIME) {
            throw new IOException(origin + ": " + f.length + " fields after comm, field 22 (starttime) needs "
                    + (STARTTIME + 1) + ", in '" + text.strip() + "'");
        }
        if (f[0].length() != 1) {
            throw new IOException(origin + ": field 3 (state) is '" + f[0] + "', not one letter");
        }
        return new ProcStat(number(text.substring(0, open), 1, origin), text.substring(open + 2, close),
                f[0].charAt(0), number(f[1], 4, origin), longNumber(f[14 - 3], 14, origin),
                longNumber(f[15 - 3], 15, origin), longNumber(f[STARTTIME], 22, origin));
    }

    private static int number(String v, int field, String origin) throws IOException {
        long n = longNumber(v, field, origin);
        if (n > Integer.MAX_VALUE) {
            throw new IOException(origin + ": field " + field + " is '" + v + "', larger than a pid");
        }
        return (int) n;
    }

    private static long longNumber(String v, int field, String origin) throws IOException {
        try {
            long n = Long.parseLong(v);
            if (n < 0) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw new IOException(origin + ": field " + field + " is '" + v + "', not a number");
        }
    }
}
