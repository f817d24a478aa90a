package io.vmhandler.cli.demo;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real, unprivileged QEMU launched the way a launcher pod runs it: inside a given netns, as a
 * given uid/gid, with every capability dropped (inheritable, bounding, no_new_privs), attaching
 * a precreated tap with N queues. Used by the demo and by the integration tests.
 *
 * <p>The host's /dev/net/tun is 0600 root here, as on most nodes; a pod gets a 0666 node from its
 * device plugin. So QEMU runs in a private mount namespace where a 0666 tun node is bind-mounted
 * over /dev/net/tun (docs/test-host.md B1). The host's device node is never changed.
 *
 * <p>vCPUs are started paused ({@code -S}): the vCPU threads ({@code CPU n/TCG}, thanks to
 * debug-threads=on) exist, but burn no CPU on a 2-core node.
 */
public final class QemuProcess implements AutoCloseable {
    public static final Path QEMU = Path.of("/usr/bin/qemu-system-x86_64");

    private static final String SCRIPT = String.join("\n",
            "set -e",
            "for f in $VMH_PROCS; do echo $$ > $f; done",
            "d=$1; netns=$2; uid=$3; gid=$4; shift 4",
            "mknod -m 0666 \"$d/tun\" c 10 200",
            "mount --bind \"$d/tun\" /dev/net/tun",
            "exec nsenter --net=\"$netns\" setpriv --reuid \"$uid\" --regid \"$gid\" --clear-groups"
                    + " --inh-caps=-all --bounding-set=-all --no-new-privs -- \"$@\"");

    private final Process process;
    private final Path dir;
    private final Path log;

    private QemuProcess(Process process, Path dir, Path log) {
        this.process = process;
        this.dir = dir;
        this.log = log;
    }

    public static boolean installed() {
        return Files.isExecutable(QEMU);
    }

    /**
     * Starts QEMU attached to {@code tap}. Returns at once; the caller polls the tap or
     * {@link #alive()} to see whether QEMU got its queues or failed.
     */
    public static QemuProcess start(String netnsPath, String tap, int queues, long uid, long gid, int vcpus)
            throws IOException {
        return start(netnsPath, tap, queues, uid, gid, vcpus, List.of());
    }

    /** The same, born inside {@code cgroupDirs} too (a launcher pod's cgroups), as a container's process is. */
    public static QemuProcess start(String netnsPath, String tap, int queues, long uid, long gid, int vcpus,
                                    List<Path> cgroupDirs) throws IOException {
        Path dir = Files.createTempDirectory("vmh-qemu-");
        Path log = dir.resolve("qemu.log");
        List<String> argv = new ArrayList<>(List.of("unshare", "--mount", "--propagation", "private", "--",
                "/bin/sh", "-c", SCRIPT, "vmh-qemu", dir.toString(), netnsPath, Long.toString(uid), Long.toString(gid),
                QEMU.toString(), "-name", "vmh-" + tap + ",debug-threads=on", "-accel", "tcg", "-S", "-nographic",
                "-nodefaults", "-no-user-config", "-display", "none", "-smp", Integer.toString(vcpus), "-m", "64"));
        String netdev = "tap,id=n0,ifname=" + tap + ",script=no,downscript=no,vhost=off";
        String device = "virtio-net-pci,netdev=n0";
        if (queues > 1) {
            netdev += ",queues=" + queues;
            device += ",mq=on,vectors=" + (2 * queues + 2);
        }
        argv.addAll(List.of("-netdev", netdev, "-device", device));
        ProcessBuilder pb = new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(log.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        pb.environment().put("VMH_PROCS", cgroupDirs.stream().map(d -> d.resolve("cgroup.procs").toString())
                .collect(java.util.stream.Collectors.joining(" ")));
        return new QemuProcess(pb.start(), dir, log);
    }

    /**
     * Starts a paused QEMU with {@code vcpus} vCPU threads and no network device, born inside the
     * given cgroup directories (a shell writes its pid to each {@code cgroup.procs}, then execs
     * setpriv and QEMU), the way a container's processes start in its cgroups. For pinning.
     */
    public static QemuProcess startInCgroups(List<Path> cgroupDirs, long uid, long gid, int vcpus, String name)
            throws IOException {
        Path dir = Files.createTempDirectory("vmh-qemu-");
        Path log = dir.resolve("qemu.log");
        StringBuilder procs = new StringBuilder();
        for (Path d : cgroupDirs) {
            procs.append(procs.length() == 0 ? "" : " ").append(d.resolve("cgroup.procs"));
        }
        List<String> argv = new ArrayList<>(List.of("/bin/sh", "-c",
                "set -e; for f in $VMH_PROCS; do echo $$ > $f; done; uid=$1; gid=$2; shift 2;"
                        + " exec setpriv --reuid \"$uid\" --regid \"$gid\" --clear-groups --inh-caps=-all"
                        + " --bounding-set=-all --no-new-privs -- \"$@\"",
                "vmh-qemu", Long.toString(uid), Long.toString(gid),
                QEMU.toString(), "-name", name + ",debug-threads=on", "-accel", "tcg", "-S", "-nographic",
                "-nodefaults", "-no-user-config", "-display", "none", "-smp", Integer.toString(vcpus), "-m", "64"));
        ProcessBuilder pb = new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(log.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        pb.environment().put("VMH_PROCS", procs.toString());
        return new QemuProcess(pb.start(), dir, log);
    }

    /** The QEMU pid: unshare, sh, nsenter and setpriv all exec, so it is the process we started. */
    public long pid() {
        return process.pid();
    }

    public boolean alive() {
        return process.isAlive();
    }

    /** Waits up to {@code millis} for QEMU to exit; returns its exit code, or -1 if still running. */
    public int waitExit(long millis) throws InterruptedException {
        return process.waitFor(millis, TimeUnit.MILLISECONDS) ? process.exitValue() : -1;
    }

    public String output() {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "";
        }
    }

    @Override
    public void close() {
        process.destroyForcibly();
        try {
            process.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try (var files = Files.list(dir)) {
            for (Path f : files.toList()) {
                Files.deleteIfExists(f);
            }
            Files.deleteIfExists(dir);
        } catch (IOException e) {
            // a leftover temp file in /tmp is harmless; the process is what had to go
        }
    }
}
