package io.vmhandler.proc;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * One line of {@code /proc/PID/mountinfo} (proc(5)), the fields the daemon uses: the mount point
 * (field 5, with the kernel's octal escapes of space, tab, newline and backslash undone) and the
 * filesystem type (the first field after the {@code -} separator, which follows a variable number of
 * optional fields).
 */
public record Mount(String mountPoint, String fsType) {
    /** Parses the whole file; {@code origin} names it in errors. */
    public static List<Mount> parse(String text, String origin) throws IOException {
        List<Mount> out = new ArrayList<>();
        for (String line : text.split("\n")) {
            if (line.isEmpty()) {
                continue;
            }
            String[] f = line.split(" ");
            int sep = line.indexOf(" - ");
            if (f.length < 5 || sep < 0) {
                throw new IOException(origin + ": malformed line '" + line + "'");
            }
            String[] after = line.substring(sep + 3).split(" ");
            out.add(new Mount(unescape(f[4]), after[0]));
        }
        return List.copyOf(out);
    }

    /** show_mountinfo escapes " \t\n\\" as \ooo octal (fs/proc_namespace.c, seq_escape). */
    private static String unescape(String s) {
        if (s.indexOf('\\') < 0) {
            return s;
        }
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 3 < s.length() && s.substring(i + 1, i + 4).chars().allMatch(d -> d >= '0' && d <= '7')) {
                b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }
}
