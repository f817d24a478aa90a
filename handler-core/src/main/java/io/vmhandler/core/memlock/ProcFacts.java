package io.vmhandler.core.memlock;

import io.vmhandler.nativeio.LinuxConstants;
import io.vmhandler.nativeio.RLimit;
import io.vmhandler.proc.ProcessGoneException;
import io.vmhandler.proc.ProcessInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

/**
 * What {@code /proc} says about a process, for {@link MemlockApplier}: its RLIMIT_MEMLOCK
 * ({@code limits}, readable even where prlimit is refused: libvirt's {@code virProcessGetLimit}
 * falls back to it for the same reason), its credentials and capabilities ({@code status}) and its
 * start time ({@code stat} field 22), which tells a reused pid apart. Stateless; blocking file reads.
 */
final class ProcFacts {
    private static final String MEMLOCK_ROW = "Max locked memory";

    private final Path proc;

    ProcFacts(Path proc) {
        this.proc = proc;
    }

    /** The "Max locked memory" row of /proc/PID/limits. */
    RLimit memlock(int pid) throws IOException {
        for (String line : read(pid, "limits")) {
            if (line.startsWith(MEMLOCK_ROW)) {
                String[] f = line.substring(MEMLOCK_ROW.length()).trim().split("\\s+");
                if (f.length >= 2) {
                    return new RLimit(limit(f[0]), limit(f[1]));
                }
            }
        }
        throw new IOException(proc + "/" + pid + "/limits has no '" + MEMLOCK_ROW + "' row");
    }

    private static long limit(String v) throws IOException {
        if (v.equals("unlimited")) {
            return LinuxConstants.RLIM_INFINITY;
        }
        try {
            return Long.parseUnsignedLong(v);
        } catch (NumberFormatException e) {
            throw new IOException("unexpected RLIMIT_MEMLOCK value '" + v + "' in /proc limits");
        }
    }

    /** Field 22 of /proc/PID/stat, in clock ticks since boot (parsed where every stat read is). */
    long startTime(int pid) throws IOException {
        return ProcessInfo.startTime(String.join(" ", read(pid, "stat")));
    }

    /** The four ids of a "Uid:" or "Gid:" line: real, effective, saved, filesystem. */
    long[] ids(String who, String key) throws IOException {
        String line = statusLine(who, key);
        String[] f = line.trim().split("\\s+");
        long[] ids = new long[4];
        for (int i = 0; i < 4; i++) {
            ids[i] = Long.parseLong(f[i]);
        }
        return ids;
    }

    /** The CapEff mask of a status file ({@code self}, {@code thread-self} or a pid). */
    long capEff(String who) throws IOException {
        return Long.parseUnsignedLong(statusLine(who, "CapEff:").trim(), 16);
    }

    private String statusLine(String who, String key) throws IOException {
        for (String line : Files.readAllLines(proc.resolve(who).resolve("status"))) {
            if (line.startsWith(key)) {
                return line.substring(key.length());
            }
        }
        throw new IOException(proc.resolve(who).resolve("status") + " has no '" + key + "' line");
    }

    private List<String> read(int pid, String file) throws IOException {
        try {
            return Files.readAllLines(proc.resolve(Integer.toString(pid)).resolve(file));
        } catch (NoSuchFileException e) {
            throw new ProcessGoneException(pid);
        }
    }
}
