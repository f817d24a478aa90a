package io.vmhandler.it;

import io.vmhandler.testing.Cmd;
import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.Processes;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A {@link FakePod} that also has its own mount namespace with a private /dev (tmpfs), as a container
 * has: real character nodes made with mknod, owned by root with mode 0600, so uid 107 cannot open
 * them. The namespace is held by a root "pause" process; the pod's processes join it with nsenter
 * before {@link FakePod#enter}, so they are born in the pod's cgroup, netns and mount namespace.
 */
final class DevicePod {
    /** The VFIO groups' major in these tests: a dynamic major the kernel does not use here. */
    static final int VFIO_GROUP_MAJOR = 240;

    final FakePod pod;
    private final HostCleanup host;
    private final Process pause;

    DevicePod(HostCleanup host, String cpus) throws IOException {
        this.host = host;
        this.pod = new FakePod(host, cpus);
        String script = String.join(" && ",
                "mount -t tmpfs -o mode=755,size=1m vmh-pod-dev /dev",
                "mkdir /dev/net /dev/vfio",
                "mknod -m 600 /dev/net/tun c 10 200",
                "mknod -m 600 /dev/kvm c 10 232",
                "mknod -m 600 /dev/vhost-net c 10 238",
                "mknod -m 600 /dev/vhost-vsock c 10 241",
                "mknod -m 600 /dev/vfio/vfio c 10 196",
                "mknod -m 600 /dev/vfio/7 c " + VFIO_GROUP_MAJOR + " 7",
                "mknod -m 600 /dev/vfio/9 c " + VFIO_GROUP_MAJOR + " 9",
                // what a container runtime adds and QEMU and the JVM open
                "mknod -m 666 /dev/null c 1 3", "mknod -m 666 /dev/zero c 1 5",
                "mknod -m 666 /dev/random c 1 8", "mknod -m 666 /dev/urandom c 1 9",
                "echo ready", "exec sleep 600");
        pause = host.process(new ProcessBuilder("unshare", "--mount", "--propagation", "private", "--",
                "/bin/sh", "-c", script).redirectErrorStream(true));
        BufferedReader r = new BufferedReader(new InputStreamReader(pause.getInputStream(), StandardCharsets.UTF_8));
        String line = r.readLine();
        if (!"ready".equals(line)) {
            throw new IOException("the pod's /dev could not be made: " + line);
        }
    }

    String mountNs() {
        return "/proc/" + pause.pid() + "/ns/mnt";
    }

    /** argv of {@code cmd} as uid/gid 107 without capabilities in the pod (cgroup, netns, mount ns). */
    List<String> asLauncher(String... cmd) {
        List<String> argv = new ArrayList<>(List.of("nsenter", "--mount=" + mountNs(), "--"));
        argv.addAll(pod.enter(107, 107));
        argv.addAll(List.of(cmd));
        return argv;
    }

    /**
     * A long-running launcher process of the pod: the process a grant is for, returned once it runs {@code sleep}
     * itself. The pid is nsenter's at first, then the shell's that joins the pod's cgroup, then nsenter's and
     * setpriv's; until that last exec it may not be in the pod's mount namespace yet, and a grant for it would look
     * at the host's /dev (DevicesIT saw a hostile node pass that way, once in a full run).
     */
    Process launcher() {
        Process p = host.process(new ProcessBuilder(asLauncher("sleep", "600")));
        Processes.awaitExec(p, "sleep");
        return p;
    }

    /** Runs a shell script as root inside the pod's mount namespace (to plant hostile nodes). */
    void asRoot(String script) {
        Cmd.run("nsenter", "--mount=" + mountNs(), "--", "/bin/sh", "-c", script).ok();
    }

    /**
     * Opens each path O_RDWR as uid 107 in the pod and returns per path "OPEN", "EACCES", "ENODEV" or
     * "ENXIO" (or the shell's message for anything else).
     */
    List<String> tryOpen(String... paths) {
        List<String> cmd = new ArrayList<>(List.of("/bin/sh", "-c",
                "for f in \"$@\"; do r=$( (exec 3<>\"$f\") 2>&1 ) && echo OPEN || echo \"$r\"; done", "sh"));
        cmd.addAll(List.of(paths));
        Cmd.Result res = Cmd.run(asLauncher(cmd.toArray(String[]::new)));
        List<String> out = new ArrayList<>();
        for (String l : res.out().strip().split("\n")) {
            out.add(l.equals("OPEN") ? "OPEN" : l.endsWith("Permission denied") ? "EACCES"
                    : l.endsWith("No such device or address") ? "ENXIO" : l.endsWith("No such device") ? "ENODEV" : l);
        }
        return out;
    }

    /** Owner, group and mode of a path in the pod's /dev, as root sees it: "0:0 600". */
    String owner(String path) {
        return Cmd.run("nsenter", "--mount=" + mountNs(), "--", "stat", "-c", "%u:%g %a %F", path).ok().out().strip();
    }

    /**
     * What a granted open of the pod's kvm node (a mknod of 10:232) gives on this host: "OPEN" where the kernel has
     * the kvm misc device registered ("232 kvm" in /proc/misc), else "ENODEV", e.g. in a guest without nested
     * virtualisation. Either way the open got past the permission check, which is what the grant changes (before
     * it: EACCES); ENODEV comes after it, from the misc device lookup (misc_open, drivers/char/misc.c).
     */
    static String kvmOpenAfterGrant() throws java.io.IOException {
        boolean driver = java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/misc")).stream()
                .map(String::strip).anyMatch(l -> l.equals("232 kvm"));
        return driver ? "OPEN" : "ENODEV";
    }
}
