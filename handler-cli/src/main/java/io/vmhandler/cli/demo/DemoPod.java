package io.vmhandler.cli.demo;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * The demo's launcher "pod": a network namespace plus a cpuset cgroup named the way kubelet's
 * cgroupfs driver names a burstable pod's container ({@code kubepods/burstable/pod<uid>/<id>}), so
 * the daemon resolves its identity exactly as on a node. Removed on close, deepest level first; levels
 * that existed before (a real node's kubepods) are left alone.
 */
public final class DemoPod implements AutoCloseable {
    private static final Path CPUSET = Path.of("/sys/fs/cgroup/cpuset");

    private final String uid;
    private final DemoNetns netns;
    private final Path container;
    private final List<Path> created;

    private DemoPod(String uid, DemoNetns netns, Path container, List<Path> created) {
        this.uid = uid;
        this.netns = netns;
        this.container = container;
        this.created = created;
    }

    public static DemoPod create(String name) throws IOException {
        if (!Files.isDirectory(CPUSET)) {
            throw new IOException("the demo needs the cgroup v1 cpuset hierarchy at " + CPUSET);
        }
        String uid = UUID.randomUUID().toString();
        String id = UUID.randomUUID().toString().replace("-", "") + UUID.randomUUID().toString().replace("-", "");
        List<Path> created = new ArrayList<>();
        DemoNetns ns = DemoNetns.create(name);
        try {
            Path dir = CPUSET;
            for (String part : List.of("kubepods", "burstable", "pod" + uid, id)) {
                Path parent = dir;
                dir = dir.resolve(part);
                if (!Files.isDirectory(dir)) {
                    Files.createDirectory(dir);
                    created.add(0, dir);
                    Files.writeString(dir.resolve("cpuset.cpus"), Files.readString(parent.resolve("cpuset.cpus")).trim());
                    Files.writeString(dir.resolve("cpuset.mems"), Files.readString(parent.resolve("cpuset.mems")).trim());
                }
            }
            return new DemoPod(uid, ns, dir, created);
        } catch (IOException | RuntimeException e) {
            new DemoPod(uid, ns, null, created).close();
            throw e;
        }
    }

    public String uid() {
        return uid;
    }

    public String netnsPath() {
        return netns.path();
    }

    public String netnsName() {
        return netns.name();
    }

    /** The container's cgroup directory (cpuset hierarchy). */
    public Path cgroup() {
        return container;
    }

    /** argv prefix that runs a command in this pod as uid/gid, with no capabilities. */
    public List<String> enter(long uid, long gid) {
        return new ArrayList<>(List.of("/bin/sh", "-c",
                "echo $$ > \"$1\"; n=\"$2\"; shift 2; exec nsenter --net=\"$n\" -- setpriv --reuid " + uid + " --regid "
                        + gid + " --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs -- \"$@\"",
                "sh", container.resolve("cgroup.procs").toString(), netns.path()));
    }

    /** rmdir, retried briefly: a process killed a moment ago may still be leaving the cgroup (EBUSY). */
    private static void removeDir(Path d) throws IOException {
        // children first: the pinner makes a housekeeping sub-cgroup inside the container's
        try (var children = Files.list(d)) {
            for (Path c : children.filter(Files::isDirectory).toList()) {
                for (String pid : Files.readAllLines(c.resolve("cgroup.procs"))) {
                    if (!pid.isBlank()) {
                        Files.writeString(CPUSET.resolve("cgroup.procs"), pid.trim());
                    }
                }
                removeDir(c);
            }
        } catch (java.nio.file.NoSuchFileException e) {
            return;
        }
        for (int i = 0; ; i++) {
            try {
                Files.deleteIfExists(d);
                return;
            } catch (java.nio.file.FileSystemException e) {
                if (i >= 50) {
                    throw e;
                }
                try {
                    Thread.sleep(20);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
            }
        }
    }

    @Override
    public void close() throws IOException {
        IOException first = null;
        for (Path d : created) {
            // a process still inside would keep the cgroup busy: move leftovers to the root first
            try {
                for (String pid : Files.readAllLines(d.resolve("cgroup.procs"))) {
                    if (!pid.isBlank()) {
                        Files.writeString(CPUSET.resolve("cgroup.procs"), pid.trim());
                    }
                }
                removeDir(d);
            } catch (IOException e) {
                first = first == null ? e : first;
            }
        }
        created.clear();
        netns.close();
        if (first != null) {
            throw first;
        }
    }
}
