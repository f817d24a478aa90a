package io.vmhandler.it;

import io.vmhandler.testing.Cmd;
import io.vmhandler.testing.HostCleanup;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Debian's libvirtd (bookworm has only the monolithic 9.0 daemon, no virtqemud), running as root inside a
 * {@link FakePod} the way a launcher pod's libvirt does: born in the pod's cpuset cgroup and netns, QEMU
 * as uid/gid 107. It runs in a private mount namespace where every path libvirt reads or writes is a bind
 * mount of a temp dir, so the host's config is never read or changed and concurrent runs never meet
 * (docs/test-host.md B2, B3). Everything it starts is registered with the given {@link HostCleanup}.
 */
final class RealLibvirtd {
    static final String LIBVIRTD = "/usr/sbin/libvirtd";
    static final String VIRSH = "/usr/bin/virsh";
    private static final Pattern MEMLOCK = Pattern.compile("Max locked memory\\s+(\\S+)\\s+(\\S+)");

    /**
     * Why each line is there: "+107" is a numeric uid/gid with no passwd entry needed. dynamic_ownership
     * lets the DAC driver hand QEMU what it opens. There is no AppArmor or SELinux on this kernel, hence
     * "none". The default stdio_handler "logd" needs virtlogd, which only systemd socket activation starts.
     * An empty cgroup_controllers keeps QEMU in libvirtd's cgroups, i.e. in the pod, as a launcher pod's
     * libvirt does (it has no machine cgroup of its own to create); that is what lets vmhandler find QEMU
     * as a process of the calling pod.
     */
    private static final String QEMU_CONF = """
            user = "+107"
            group = "+107"
            dynamic_ownership = 1
            security_driver = "none"
            stdio_handler = "file"
            cgroup_controllers = [ ]
            """;

    /**
     * Runs in the new mount namespace, then execs the rest of argv. The device nodes are what the
     * KubeVirt kvm/tun device plugins give a pod: the host's are 0600 root here, and QEMU (uid 107) opens
     * /dev/kvm itself. /etc/passwd gains a libvirt-qemu entry because Debian's libvirt resolves that
     * default user name before it reads qemu.conf (libvirt-daemon-system's postinst would create it; we
     * install only libvirtd and virsh).
     */
    private static final String MOUNT_NS_SCRIPT = String.join("\n",
            "set -e",
            "r=$1; shift",
            "if [ -e /dev/kvm ]; then mknod -m 0660 \"$r/dev/kvm\" c 10 232; chown 0:107 \"$r/dev/kvm\";"
                    + " mount --bind \"$r/dev/kvm\" /dev/kvm; fi",
            "mknod -m 0666 \"$r/dev/tun\" c 10 200",
            "mount --bind \"$r/dev/tun\" /dev/net/tun",
            "for d in etc/libvirt run var/lib var/log var/cache; do mount --bind \"$r/$d\" \"/$d\"; done",
            "for f in passwd group; do cp /etc/$f \"$r/$f\"; done",
            "grep -q '^libvirt-qemu:' \"$r/passwd\" || echo 'libvirt-qemu:x:107:107::/nonexistent:/usr/sbin/nologin' >> \"$r/passwd\"",
            "grep -q '^libvirt-qemu:' \"$r/group\" || echo 'libvirt-qemu:x:107:' >> \"$r/group\"",
            "for f in passwd group; do mount --bind \"$r/$f\" /etc/$f; done",
            "exec \"$@\"");

    private final Path root;
    private final Process process;
    private final String uri;

    private RealLibvirtd(Path root, Process process) {
        this.root = root;
        this.process = process;
        this.uri = "qemu+unix:///system?socket=" + root.resolve("run/libvirt/libvirt-sock");
    }

    /**
     * Starts libvirtd in {@code pod} with RLIMIT_MEMLOCK soft = {@code softMemlock} and hard = this
     * JVM's hard limit (nobody here can raise it), and waits until virsh gets an answer.
     */
    static RealLibvirtd start(HostCleanup host, FakePod pod, long softMemlock) throws Exception {
        Path root = Files.createTempDirectory("vmh-libvirt-");
        host.add(() -> Cmd.run("rm", "-rf", root.toString()));
        for (String d : List.of("dev", "etc/libvirt/qemu", "run", "var/lib/libvirt", "var/log/libvirt", "var/cache/libvirt")) {
            Files.createDirectories(root.resolve(d));
        }
        Files.writeString(root.resolve("etc/libvirt/qemu.conf"), QEMU_CONF);
        Files.writeString(root.resolve("etc/libvirt/libvirtd.conf"), "");
        List<String> machineDirs = machineCgroupDirs();
        // libvirt may leave an empty "machine" partition per v1 controller: remove only what was not there before
        host.add(() -> machineCgroupDirs().stream().filter(d -> !machineDirs.contains(d)).forEach(d -> Cmd.run("rmdir", d)));

        List<String> argv = pod.enterAsRoot();
        argv.addAll(List.of("unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", MOUNT_NS_SCRIPT,
                "libvirtd-ns", root.toString(),
                // prlimit execs libvirtd, so the process we hold is libvirtd itself
                "prlimit", "--memlock=" + softMemlock + ":" + selfHardMemlock(), "--", LIBVIRTD));
        Process p = host.process(new ProcessBuilder(argv).redirectErrorStream(true)
                .redirectOutput(root.resolve("libvirtd.log").toFile()));
        RealLibvirtd d = new RealLibvirtd(root, p);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        // the first start probes QEMU's capabilities into its (empty) cache: several seconds
        while (d.virsh("version").exit() != 0) {
            if (!p.isAlive() || System.nanoTime() > deadline) {
                throw new AssertionError("libvirtd did not come up: " + d.log());
            }
            Thread.sleep(100);
        }
        String comm = Files.readString(Path.of("/proc/" + p.pid() + "/comm")).strip();
        if (!comm.equals("libvirtd")) {
            throw new AssertionError("expected libvirtd at pid " + p.pid() + ", found " + comm);
        }
        return d;
    }

    long pid() {
        return process.pid();
    }

    Cmd.Result virsh(String... args) {
        List<String> argv = new ArrayList<>(List.of(VIRSH, "-c", uri));
        argv.addAll(List.of(args));
        return Cmd.run(argv);
    }

    /** Writes {@code xml} and runs {@code virsh create [--paused]}; registers destroy (and a kill of QEMU). */
    Cmd.Result create(HostCleanup host, String name, String xml, boolean paused) throws IOException {
        Path file = root.resolve(name + ".xml");
        Files.writeString(file, xml);
        host.add(() -> destroy(name));
        return paused ? virsh("create", "--paused", file.toString()) : virsh("create", file.toString());
    }

    /** QEMU's pid from libvirt's pid file, while the domain exists. */
    Optional<Long> qemuPid(String name) {
        try {
            return Optional.of(Long.parseLong(Files.readString(root.resolve("run/libvirt/qemu/" + name + ".pid")).strip()));
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    private void destroy(String name) {
        Optional<Long> qemu = qemuPid(name);
        virsh("destroy", name);
        // should libvirt not manage it, kill only the QEMU that names this domain
        qemu.flatMap(ProcessHandle::of).filter(h -> h.info().arguments().map(a -> String.join(" ", a)
                .contains("guest=" + name + ",")).orElse(false)).ifPresent(ProcessHandle::destroyForcibly);
    }

    String log() {
        try {
            return Files.readString(root.resolve("libvirtd.log"));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    /** libvirt's per-domain QEMU log (stdio_handler = "file"). */
    String domainLog(String name) {
        try {
            return Files.readString(root.resolve("var/log/libvirt/qemu/" + name + ".log"));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    /** {soft, hard} RLIMIT_MEMLOCK of a process from /proc/PID/limits ("unlimited" = -1). */
    static long[] memlock(long pid) throws IOException {
        Matcher m = MEMLOCK.matcher(Files.readString(Path.of("/proc/" + pid + "/limits")));
        if (!m.find()) {
            throw new AssertionError("no 'Max locked memory' line in /proc/" + pid + "/limits");
        }
        return new long[] {parse(m.group(1)), parse(m.group(2))};
    }

    private static String selfHardMemlock() throws IOException {
        long hard = memlock(ProcessHandle.current().pid())[1];
        return hard < 0 ? "unlimited" : Long.toString(hard);
    }

    private static long parse(String v) {
        return v.equals("unlimited") ? -1 : Long.parseLong(v);
    }

    private static List<String> machineCgroupDirs() {
        try (var s = Files.list(Path.of("/sys/fs/cgroup"))) {
            return s.map(c -> c.resolve("machine")).filter(Files::isDirectory).map(Path::toString).toList();
        } catch (IOException e) {
            return List.of();
        }
    }
}
