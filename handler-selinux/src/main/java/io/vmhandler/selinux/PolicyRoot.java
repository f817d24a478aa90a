package io.vmhandler.selinux;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * A policy store: the directory tree that holds {@code var/lib/selinux/STORE} (the modules) and
 * {@code etc/selinux/STORE} (the built policy, contexts), plus {@code etc/selinux/semanage.conf} and
 * {@code etc/selinux/config}. The root is {@code /} on a host, {@code /proc/1/root} from a
 * privileged hostPID pod, or any directory holding a copy (tests, validation).
 */
public record PolicyRoot(Path root, String store) {
    /** Store names become directory names. */
    private static final Pattern STORE = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}");

    /** From a hostPID pod, pid 1's root is the host's root directory. */
    public static final Path PID1_ROOT = Path.of("/proc/1/root");

    public PolicyRoot {
        Objects.requireNonNull(root, "root");
        if (store == null || !STORE.matcher(store).matches() || store.equals("..")) {
            throw new IllegalArgumentException("store must match " + STORE.pattern() + ", got '" + store + "'");
        }
    }

    /**
     * The store the root's {@code etc/selinux/config} names ({@code SELINUXTYPE}), so a pod reads the
     * host's configuration, never its own.
     */
    public static PolicyRoot configured(Path root) throws IOException {
        String type = configValue(root, "SELINUXTYPE");
        if (type == null) {
            throw new IOException("no SELINUXTYPE in " + root.resolve("etc/selinux/config")
                    + ": name the store (e.g. --store targeted)");
        }
        return new PolicyRoot(root, type);
    }

    /**
     * The host's root as this process can reach it: {@code /proc/1/root} when readable (a hostPID
     * pod, or the host itself), else {@code /} (a sandbox where pid 1 is not ours to read).
     */
    public static Path hostRoot() {
        try (var s = Files.list(PID1_ROOT)) {
            s.findFirst();
            return PID1_ROOT;
        } catch (IOException | SecurityException e) {
            return Path.of("/");
        }
    }

    /** A value from {@code ROOT/etc/selinux/config}, or null. */
    public static String configValue(Path root, String key) throws IOException {
        Path config = root.resolve("etc/selinux/config");
        if (!Files.isReadable(config)) {
            return null;
        }
        for (String line : Files.readAllLines(config)) {
            String l = line.trim();
            if (l.startsWith(key + "=")) {
                String v = l.substring(key.length() + 1).trim();
                return v.isEmpty() ? null : v;
            }
        }
        return null;
    }

    public Path storeDir() {
        return root.resolve("var/lib/selinux").resolve(store);
    }

    public Path etcDir() {
        return root.resolve("etc/selinux").resolve(store);
    }

    public Path policyDir() {
        return etcDir().resolve("policy");
    }

    public Path semanageConf() {
        return root.resolve("etc/selinux/semanage.conf");
    }

    public Path selinuxfs() {
        return root.resolve("sys/fs/selinux");
    }

    public boolean exists() {
        return Files.isDirectory(storeDir().resolve("active"));
    }

    /**
     * True when this root is the running host's own root, i.e. the one whose policy the kernel
     * enforces. Only then may a build be loaded into the kernel.
     */
    public boolean isLiveHost() {
        try {
            return Files.isSameFile(root, hostRoot());
        } catch (IOException | SecurityException e) {
            return false; // not comparable, so not provably the live root
        }
    }

    @Override
    public String toString() {
        return storeDir().toString();
    }
}
