package io.vmhandler.proc;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * {@code /proc/PID/status} (or {@code self}, {@code thread-self}, {@code task/TID}): "Key:\tvalue"
 * lines (proc(5)). Typed accessors for what the daemon reads: Uid/Gid (real, effective, saved, fs),
 * Groups (supplementary groups), NSpid/NStgid (the pid in each pid namespace, outermost first, Linux 4.1),
 * CapEff/CapBnd (hex masks).
 * A missing key is an error naming the file and the key; a kernel without NSpid says so.
 */
public record ProcStatus(String origin, Map<String, String> fields) {
    /** Four ids of a Uid: or Gid: line, in the kernel's order. */
    public record Ids(long real, long effective, long saved, long fs) {
        /** Whether every id but fs is {@code id} (check_prlimit_permission's rule, kernel/sys.c). */
        public boolean allRealEffectiveSaved(long id) {
            return real == id && effective == id && saved == id;
        }
    }

    public ProcStatus {
        fields = Map.copyOf(fields);
    }

    public static ProcStatus parse(String text, String origin) {
        Map<String, String> f = new LinkedHashMap<>();
        for (String line : text.split("\n")) {
            int colon = line.indexOf(':');
            if (colon > 0) {
                f.putIfAbsent(line.substring(0, colon), line.substring(colon + 1).trim());
            }
        }
        return new ProcStatus(origin, f);
    }

    public Optional<String> field(String key) {
        return Optional.ofNullable(fields.get(key));
    }

    public String require(String key) throws IOException {
        String v = fields.get(key);
        if (v == null) {
            throw new IOException(origin + " has no '" + key + ":' line");
        }
        return v;
    }

    public Ids uids() throws IOException {
        return ids("Uid");
    }

    public Ids gids() throws IOException {
        return ids("Gid");
    }

    /** The pid in each pid namespace the process is in, outermost (the reader's) first. */
    public List<Integer> nspid() throws IOException {
        return ints("NSpid");
    }

    /** The thread group id in each pid namespace, outermost first. */
    public List<Integer> nstgid() throws IOException {
        return ints("NStgid");
    }

    /** The pid as the process's own (innermost) pid namespace numbers it: the last NSpid entry. */
    public int innermostNspid() throws IOException {
        List<Integer> ids = nspid();
        return ids.get(ids.size() - 1);
    }

    public long capEff() throws IOException {
        return mask("CapEff");
    }

    public long capBnd() throws IOException {
        return mask("CapBnd");
    }

    /** The supplementary groups ({@code Groups:}, empty when there are none). */
    public List<Long> groups() throws IOException {
        return longs("Groups");
    }

    private long mask(String key) throws IOException {
        String v = require(key);
        try {
            return Long.parseUnsignedLong(v, 16);
        } catch (NumberFormatException e) {
            throw new IOException(origin + ": " + key + " is '" + v + "', not a hex mask");
        }
    }

    private Ids ids(String key) throws IOException {
        List<Long> v = longs(key);
        if (v.size() != 4) {
            throw new IOException(origin + ": " + key + " has " + v.size() + " ids, not 4 (real, effective, saved, fs)");
        }
        return new Ids(v.get(0), v.get(1), v.get(2), v.get(3));
    }

    private List<Integer> ints(String key) throws IOException {
        List<Integer> out = new ArrayList<>();
        for (long n : longs(key)) {
            if (n > Integer.MAX_VALUE) {
                throw new IOException(origin + ": " + key + " holds " + n + ", larger than a pid");
            }
            out.add((int) n);
        }
        if (out.isEmpty()) {
            throw new IOException(origin + ": " + key + " is empty");
        }
        return out;
    }

    private List<Long> longs(String key) throws IOException {
        String v = require(key);
        List<Long> out = new ArrayList<>();
        for (String s : v.isEmpty() ? new String[0] : v.split("\\s+")) {
            try {
                out.add(Long.parseLong(s));
            } catch (NumberFormatException e) {
                throw new IOException(origin + ": " + key + " holds '" + s + "', not a number");
            }
        }
        return out;
    }
}
