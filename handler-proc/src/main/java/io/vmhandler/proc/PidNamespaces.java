package io.vmhandler.proc;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Translates a pid as a launcher sees it (in its container's pid namespace) into the daemon's (host)
 * pid. The launcher can only name processes by the numbers it sees; the daemon, running with hostPID,
 * acts on host pids. A process matches when it lives in the caller's pid namespace (same nsfs inode of
 * /proc/PID/ns/pid) and the innermost entry of its {@code NSpid:} line equals the requested number.
 */
public final class PidNamespaces {
    private final Path procRoot;

    public PidNamespaces(Path procRoot) {
        this.procRoot = procRoot;
    }

    /** The host pid of {@code nsPid} in the pid namespace of {@code callerHostPid}, if such a process exists. */
    public Optional<Integer> toHostPid(int callerHostPid, int nsPid) throws IOException {
        if (nsPid <= 0) {
            throw new IllegalArgumentException("pid must be > 0, got " + nsPid);
        }
        Object callerNs = nsInode(callerHostPid);
        if (callerNs == null) {
            throw new ProcessGoneException(callerHostPid);
        }
        // fast path: the caller shares the daemon's view (host pid namespace, tests, hostPID pods)
        if (callerNs.equals(nsInode(nsPid)) && innermostNsPid(nsPid) == nsPid) {
            return Optional.of(nsPid);
        }
        try (DirectoryStream<Path> procs = Files.newDirectoryStream(procRoot, p -> isPid(p.getFileName().toString()))) {
            for (Path p : procs) {
                int pid = Integer.parseInt(p.getFileName().toString());
                if (innermostNsPid(pid) == nsPid && callerNs.equals(nsInode(pid))) {
                    return Optional.of(pid);
                }
            }
        }
        return Optional.empty();
    }

    /**
     * How the caller sees thread {@code tid} of host process {@code hostPid}: the innermost NSpid of
     * /proc/PID/task/TID/status. Replies must speak the caller's numbering, never the host's.
     */
    public int toNsTid(int hostPid, int tid) {
        try {
            for (String line : Files.readAllLines(procRoot.resolve(Integer.toString(hostPid)).resolve("task")
                    .resolve(Integer.toString(tid)).resolve("status"))) {
                if (line.startsWith("NSpid:")) {
                    String[] ids = line.substring(6).trim().split("\\s+");
                    return Integer.parseInt(ids[ids.length - 1]);
                }
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }

    private Object nsInode(int pid) {
        try {
            return Files.getAttribute(procRoot.resolve(Integer.toString(pid)).resolve("ns/pid"), "unix:ino");
        } catch (IOException | UnsupportedOperationException e) {
            return null;
        }
    }

    /** The last number on the NSpid line of /proc/PID/status (proc(5), Linux 4.1), or -1. */
    private int innermostNsPid(int pid) {
        try {
            for (String line : Files.readAllLines(procRoot.resolve(Integer.toString(pid)).resolve("status"))) {
                if (line.startsWith("NSpid:")) {
                    String[] ids = line.substring(6).trim().split("\\s+");
                    return Integer.parseInt(ids[ids.length - 1]);
                }
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }

    private static boolean isPid(String s) {
        if (s.isEmpty() || s.length() > 10) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            if (!Character.isDigit(s.charAt(i))) {
                return false;
            }
        }
        return true;
    }
}
