package io.vmhandler.cgroups.testing;

import io.vmhandler.cgroups.QosClass;
import io.vmhandler.testing.HostCleanup;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;

/**
 * Creates real cgroups named the way kubelet names a pod's (cgroupfs or systemd driver) in the
 * host's hierarchies, and registers their removal with a {@link HostCleanup}: every directory this
 * helper created, and anything created below it (a housekeeping child), deepest first, after any
 * leftover task is moved back to the hierarchy root. Levels that already existed (a shared
 * {@code kubepods}) are never removed; one this helper created but another user filled is left.
 */
public final class KubeletCgroups {
    public static final Path ROOT = Path.of("/sys/fs/cgroup");

    private KubeletCgroups() {}

    public static String newPodUid() {
        return UUID.randomUUID().toString();
    }

    public static String newContainerId() {
        StringBuilder sb = new StringBuilder();
        ThreadLocalRandom r = ThreadLocalRandom.current();
        for (int i = 0; i < 64; i++) {
            sb.append(Character.forDigit(r.nextInt(16), 16));
        }
        return sb.toString();
    }

    /** {@code prefix/kubepods[/burstable]/pod<uid>/<id>}; prefix "" or "/something". */
    public static String cgroupfs(String prefix, QosClass qos, String uid, String containerLeaf) {
        String q = qos == QosClass.GUARANTEED ? "" : "/" + qos.label();
        return prefix + "/kubepods" + q + "/pod" + uid + "/" + containerLeaf;
    }

    /**
     * {@code [/<stem>.slice]/<stem->kubepods.slice[/...-burstable.slice]/...-pod<uid_>.slice/<scope>};
     * {@code stem} "" gives kubelet's default, "kubelet" the layout of a kubelet with
     * {@code --cgroup-root=/kubelet.slice} (kind nodes).
     */
    public static String systemd(String stem, QosClass qos, String uid, String scope) {
        String top = stem.isEmpty() ? "kubepods" : stem + "-kubepods";
        StringBuilder p = new StringBuilder(stem.isEmpty() ? "" : "/" + stem + ".slice").append('/').append(top).append(".slice");
        String podStem = top;
        if (qos != QosClass.GUARANTEED) {
            podStem = top + "-" + qos.label();
            p.append('/').append(podStem).append(".slice");
        }
        p.append('/').append(podStem).append("-pod").append(uid.replace('-', '_')).append(".slice");
        return p.append('/').append(scope).toString();
    }

    /**
     * Creates every level of {@code path} in {@code hierarchy} (a directory under /sys/fs/cgroup).
     * In the v1 cpuset hierarchy each new level gets its parent's cpus and mems, and the leaf gets
     * {@code leafCpus} when given. Returns the leaf directory.
     */
    public static Path create(HostCleanup host, String hierarchy, String path, String leafCpus) throws IOException {
        Path base = ROOT.resolve(hierarchy);
        Path dir = base;
        List<Path> created = new ArrayList<>();
        for (String name : path.substring(1).split("/")) {
            Path parent = dir;
            dir = dir.resolve(name);
            try {
                Files.createDirectory(dir);
            } catch (FileAlreadyExistsException e) {
                continue;
            }
            created.add(dir);
            if (created.size() == 1) {
                // only the levels this call made: a shared kubepods may hold other users' pods (parallel runs)
                host.add(() -> removeCreated(base, created));
            }
            if (hierarchy.equals("cpuset")) {
                write(dir.resolve("cpuset.cpus"), read(parent.resolve("cpuset.cpus")));
                write(dir.resolve("cpuset.mems"), read(parent.resolve("cpuset.mems")));
            }
        }
        if (created.isEmpty()) {
            throw new IOException(dir + " already existed; refusing to share a test cgroup");
        }
        if (leafCpus != null) {
            write(dir.resolve("cpuset.cpus"), leafCpus);
        }
        return dir;
    }

    public static String read(Path file) throws IOException {
        return Files.readString(file).trim();
    }

    public static void write(Path file, String value) throws IOException {
        Files.writeString(file, value);
    }

    /** Removes {@code top} and everything below it, deepest first; a shared, still used level is left. */
    static void removeTree(Path base, Path top) {
        if (!Files.isDirectory(top)) {
            return;
        }
        List<Path> dirs;
        try (Stream<Path> s = Files.walk(top)) {
            dirs = s.filter(Files::isDirectory).sorted(Comparator.comparingInt(Path::getNameCount).reversed()).toList();
        } catch (IOException e) {
            throw new AssertionError("cannot list " + top + ": " + e.getMessage(), e);
        }
        for (Path d : dirs) {
            if (hasSubdirectory(d)) {
                continue; // a shared level (kubepods) that another user still has cgroups in
            }
            evacuate(base, d);
            rmdirWithRetry(d);
        }
    }

    /** Removes the levels one create() made, deepest first; a level someone else now uses is left. */
    static void removeCreated(Path base, List<Path> created) {
        for (int i = created.size() - 1; i >= 0; i--) {
            Path d = created.get(i);
            if (!Files.isDirectory(d)) {
                continue;
            }
            if (i == created.size() - 1) {
                removeTree(base, d); // the leaf: with any sub-cgroups the test made below it
            } else if (!hasSubdirectory(d)) {
                evacuate(base, d);
                rmdirWithRetry(d);
            }
        }
    }

    /** Moves leftover tasks to the hierarchy root so the directory can go (v1 tasks, v2 cgroup.procs). */
    private static void evacuate(Path base, Path dir) {
        Path tasks = Files.exists(dir.resolve("tasks")) ? dir.resolve("tasks") : dir.resolve("cgroup.procs");
        try {
            for (String id : Files.readAllLines(tasks)) {
                if (!id.isBlank()) {
                    try {
                        Files.writeString(base.resolve(tasks.getFileName()), id.trim());
                    } catch (IOException e) {
                        // the task exited meanwhile (ESRCH), which is what we want anyway
                    }
                }
            }
        } catch (IOException e) {
            // no tasks file: nothing to move
        }
    }

    private static boolean hasSubdirectory(Path d) {
        try (Stream<Path> s = Files.list(d)) {
            return s.anyMatch(Files::isDirectory);
        } catch (IOException e) {
            return false;
        }
    }

    private static void rmdirWithRetry(Path d) {
        // a killed process leaves the cgroup a moment after waitpid returns: EBUSY until then
        for (int i = 0; ; i++) {
            try {
                Files.deleteIfExists(d);
                return;
            } catch (FileSystemException e) {
                if (i >= 50) {
                    throw new AssertionError("cannot remove cgroup " + d + ": " + e.getMessage(), e);
                }
                sleep();
            } catch (IOException e) {
                throw new AssertionError("cannot remove cgroup " + d + ": " + e.getMessage(), e);
            }
        }
    }

    private static void sleep() {
        try {
            Thread.sleep(100);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
