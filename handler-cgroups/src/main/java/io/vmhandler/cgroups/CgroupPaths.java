package io.vmhandler.cgroups;

import java.io.IOException;

/**
 * Lexical rules for cgroup paths read from {@code /proc/PID/cgroup}. Those paths are influenced by
 * whoever can create cgroups (a delegated subtree, a container with a writable cgroupfs), and a
 * reader in a different cgroup namespace sees paths like {@code /../../kubepods/...}. So before any
 * path is used it must be absolute, made of plain names only, and short. The file system layer
 * ({@link CgroupTree}) enforces the same again with openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS.
 */
public final class CgroupPaths {
    private CgroupPaths() {}

    /** The name of the sub-cgroup that holds a VM's non-vCPU threads (KubeVirt uses the same name). */
    public static final String HOUSEKEEPING = "housekeeping";

    /** PATH_MAX; cgroupfs imposes no tighter limit on the whole path. */
    static final int MAX_PATH = 4096;
    /** NAME_MAX for one directory entry. */
    static final int MAX_NAME = 255;

    /**
     * Checks {@code path} and returns it. Rejects relative paths, '.', '..', empty components,
     * NUL and control characters, over-long names, and anything with a trailing slash (except "/").
     *
     * @param origin names where the path came from, for the message (e.g. "/proc/42/cgroup cpuset")
     */
    public static String requireSafe(String path, String origin) throws IOException {
        if (path == null || path.isEmpty() || path.charAt(0) != '/') {
            throw new IOException(origin + ": cgroup path '" + path + "' is not absolute");
        }
        if (path.length() > MAX_PATH) {
            throw new IOException(origin + ": cgroup path is " + path.length() + " bytes; the limit is " + MAX_PATH);
        }
        if (path.equals("/")) {
            return path;
        }
        for (String name : path.substring(1).split("/", -1)) {
            if (name.isEmpty() || name.equals(".")) {
                throw new IOException(origin + ": cgroup path '" + path + "' has an empty or '.' component");
            }
            if (name.equals("..")) {
                throw new IOException(origin + ": cgroup path '" + path + "' leaves its root with '..'"
                        + " (is the reader in another cgroup namespace than the target?)");
            }
            if (name.length() > MAX_NAME) {
                throw new IOException(origin + ": a cgroup name is " + name.length() + " bytes; the limit is " + MAX_NAME);
            }
            for (int i = 0; i < name.length(); i++) {
                if (name.charAt(i) < 0x20 || name.charAt(i) == 0x7f) {
                    throw new IOException(origin + ": cgroup path '" + path.replaceAll("\\p{Cntrl}", "?")
                            + "' contains a control character");
                }
            }
        }
        return path;
    }

    /**
     * The container's cgroup for a path that may end in our own {@code housekeeping} child: the
     * kernel reports the thread group leader's cgroup in /proc/PID/cgroup, and QEMU's main thread
     * is an emulator thread that pinning moves into housekeeping. KubeVirt strips it the same way
     * (virt-handler cgroup manager, commit b25f9b541f).
     */
    public static String stripHousekeeping(String path) {
        String suffix = "/" + HOUSEKEEPING;
        return path.endsWith(suffix) && path.length() > suffix.length()
                ? path.substring(0, path.length() - suffix.length()) : path;
    }

    /** {@code parent + "/" + name} without doubling the slash at the root. */
    public static String child(String parent, String name) {
        return parent.equals("/") ? "/" + name : parent + "/" + name;
    }

    /** The path relative to the hierarchy root, as openat2 below it needs ("." for the root). */
    static String relative(String path) {
        return path.equals("/") ? "." : path.substring(1);
    }
}
