package io.vmhandler.it;

import io.vmhandler.testing.Cmd;
import io.vmhandler.testing.HostCleanup;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Debian's libvirtd (bookworm has only the monolithic 9.0 daemon, no virtqemud) inside a {@link FakePod} the
 * way a launcher pod's libvirt runs: born in the pod's cpuset cgroup and netns, QEMU as uid/gid 107. Two modes:
 * <ul>
 *   <li>{@link #start system}: libvirtd as root ({@code qemu:///system}); it opens the taps itself and hands
 *       QEMU the fds, so a tap's owner does not matter to it;</li>
 *   <li>{@link #startSession session}: libvirtd itself as uid/gid 107 with no capabilities
 *       ({@code qemu:///session}), KubeVirt's non-root launcher: it can open only taps owned by 107:107.</li>
 * </ul>
 * Either runs in a private mount namespace where every path libvirt reads or writes is a temp dir (bind
 * mounts in system mode, XDG dirs in session mode), so the host's config is never read or changed and
 * concurrent runs never meet (docs/test-host.md B2, B3, B4). Everything it starts is registered with the
 * given {@link HostCleanup}.
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
     * Session mode reads qemu.conf from $XDG_CONFIG_HOME/libvirt; user, group and cgroups do not apply to an
     * unprivileged daemon (QEMU runs as libvirtd's own uid, in libvirtd's cgroups). The other two lines for the
     * same reasons as in {@link #QEMU_CONF}.
     */
    private static final String SESSION_QEMU_CONF = """
            security_driver = "none"
            stdio_handler = "file"
            """;

    /** The caps a session libvirtd must be without: all of CapInh, CapPrm, CapEff, CapBnd, CapAmb. */
    private static final Pattern CAPS = Pattern.compile("^Cap(Inh|Prm|Eff|Bnd|Amb):\\s+(\\S+)$", Pattern.MULTILINE);

    /**
     * Runs in the new mount namespace, then execs the rest of argv. The device nodes are what the
     * KubeVirt kvm/tun device plugins give a pod: the host's are 0600 root here, and QEMU (uid 107) opens
     * /dev/kvm itself. /etc/passwd gains a libvirt-qemu entry because Debian's libvirt resolves that
     * default user name before it reads qemu.conf (libvirt-daemon-system's postinst would create it; we
     * install only libvirtd and virsh). A session libvirtd needs both records of its own uid and gid
     * (virGetUserEnt, virGetGroupEnt fail without them) and takes its home from the passwd entry, the second
     * argument. The host's own files are never edited: the copies are bind-mounted in this namespace only.
     * Arguments: the temp root, that home, the mode ("system" also binds libvirt's system paths to the root's).
     */
    private static final String MOUNT_NS_SCRIPT = String.join("\n",
            "set -e",
            "r=$1; home=$2; mode=$3; shift 3",
            "if [ -e /dev/kvm ]; then mknod -m 0660 \"$r/dev/kvm\" c 10 232; chown 0:107 \"$r/dev/kvm\";"
                    + " mount --bind \"$r/dev/kvm\" /dev/kvm; fi",
            "mknod -m 0666 \"$r/dev/tun\" c 10 200",
            "mount --bind \"$r/dev/tun\" /dev/net/tun",
            "for f in passwd group; do cp /etc/$f \"$r/$f\"; done",
            "grep -q '^libvirt-qemu:' \"$r/passwd\" || echo \"libvirt-qemu:x:107:107::$home:/usr/sbin/nologin\" >> \"$r/passwd\"",
            "grep -q '^libvirt-qemu:' \"$r/group\" || echo 'libvirt-qemu:x:107:' >> \"$r/group\"",
            "for f in passwd group; do mount --bind \"$r/$f\" /etc/$f; done",
            "if [ \"$mode\" = system ]; then",
            "  for d in etc/libvirt run var/lib var/log var/cache; do mount --bind \"$r/$d\" \"/$d\"; done",
            "fi",
            "exec \"$@\"");

    /** Where a mode keeps its socket, QEMU's pid files and QEMU's logs (libvirt's own defaults for the mode). */
    private record Layout(String uri, Path qemuRunDir, Path qemuLogDir) {
        static Layout system(Path root) {
            return new Layout("qemu+unix:///system?socket=" + root.resolve("run/libvirt/libvirt-sock"),
                    root.resolve("run/libvirt/qemu"), root.resolve("var/log/libvirt/qemu"));
        }

        /** $XDG_RUNTIME_DIR/libvirt and $XDG_CACHE_HOME/libvirt/qemu/log, as a session libvirtd lays them out. */
        static Layout session(SessionDirs dirs) {
            return new Layout("qemu+unix:///session?socket=" + dirs.runtime().resolve("libvirt/libvirt-sock"),
                    dirs.runtime().resolve("libvirt/qemu/run"), dirs.cache().resolve("libvirt/qemu/log"));
        }
    }

    /** A session libvirtd's home and XDG base dirs, all owned by 107:107. */
    private record SessionDirs(Path home, Path config, Path cache, Path runtime, Path data) {
        static SessionDirs create(Path root) throws IOException {
            Path s = root.resolve("session");
            SessionDirs d = new SessionDirs(s.resolve("home"), s.resolve("config"), s.resolve("cache"), s.resolve("runtime"),
                    s.resolve("data"));
            for (Path p : List.of(d.home, d.config.resolve("libvirt"), d.cache, d.runtime, d.data)) {
                Files.createDirectories(p);
            }
            Files.writeString(d.config.resolve("libvirt/qemu.conf"), SESSION_QEMU_CONF);
            // XDG_RUNTIME_DIR must be private to its user (XDG Base Directory Specification)
            Files.setPosixFilePermissions(d.runtime, PosixFilePermissions.fromString("rwx------"));
            Cmd.run("chown", "-R", "107:107", s.toString()).ok();
            return d;
        }

        List<String> env() {
            return List.of("HOME=" + home, "XDG_CONFIG_HOME=" + config, "XDG_CACHE_HOME=" + cache,
                    "XDG_RUNTIME_DIR=" + runtime, "XDG_DATA_HOME=" + data);
        }
    }

    private final Path root;
    private final Process process;
    private final Layout layout;

    private RealLibvirtd(Path root, Process process, Layout layout) {
        this.root = root;
        this.process = process;
        this.layout = layout;
    }

    /**
     * Starts libvirtd in {@code pod} with RLIMIT_MEMLOCK soft = {@code softMemlock} and hard = this
     * JVM's hard limit (nobody here can raise it), and waits until virsh gets an answer.
     */
    static RealLibvirtd start(HostCleanup host, FakePod pod, long softMemlock) throws Exception {
        Path root = tempRoot(host);
        for (String d : List.of("etc/libvirt/qemu", "run", "var/lib/libvirt", "var/log/libvirt", "var/cache/libvirt")) {
            Files.createDirectories(root.resolve(d));
        }
        Files.writeString(root.resolve("etc/libvirt/qemu.conf"), QEMU_CONF);
        Files.writeString(root.resolve("etc/libvirt/libvirtd.conf"), "");
        List<String> machineDirs = machineCgroupDirs();
        // libvirt may leave an empty "machine" partition per v1 controller: remove only what was not there before
        host.add(() -> machineCgroupDirs().stream().filter(d -> !machineDirs.contains(d)).forEach(d -> Cmd.run("rmdir", d)));
        // prlimit execs libvirtd, so the process we hold is libvirtd itself
        return launch(host, pod, root, "system", "/nonexistent", Layout.system(root),
                List.of("prlimit", "--memlock=" + softMemlock + ":" + selfHardMemlock(), "--", LIBVIRTD));
    }

    /**
     * Starts libvirtd in {@code pod} as uid/gid 107 with no capabilities (empty bounding set, no_new_privs), with
     * HOME and the XDG dirs in temp dirs, and waits until virsh (as root, over the session socket) gets an answer.
     * Asserts from /proc/PID/status that it runs as 107 with every capability set empty and that it is in the
     * pod's netns: both are what the test is about, so a silent fallback to root must fail it.
     */
    static RealLibvirtd startSession(HostCleanup host, FakePod pod) throws Exception {
        Path root = tempRoot(host);
        SessionDirs dirs = SessionDirs.create(root);
        List<String> daemon = new ArrayList<>(List.of("env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"));
        daemon.addAll(dirs.env());
        daemon.addAll(List.of("setpriv", "--reuid", "107", "--regid", "107", "--clear-groups", "--inh-caps=-all",
                "--bounding-set=-all", "--no-new-privs", "--", LIBVIRTD));
        RealLibvirtd d = launch(host, pod, root, "session", dirs.home().toString(), Layout.session(dirs), daemon);
        String status = Files.readString(Path.of("/proc/" + d.pid() + "/status"));
        if (!status.matches("(?s).*\\nUid:\\s+107\\s+107\\s+107\\s+107\\n.*")
                || !status.matches("(?s).*\\nGid:\\s+107\\s+107\\s+107\\s+107\\n.*")) {
            throw new AssertionError("session libvirtd " + d.pid() + " is not uid/gid 107:\n" + status);
        }
        Matcher caps = CAPS.matcher(status);
        int sets = 0;
        while (caps.find()) {
            sets++;
            if (Long.parseUnsignedLong(caps.group(2), 16) != 0) {
                throw new AssertionError("session libvirtd " + d.pid() + " has Cap" + caps.group(1) + " " + caps.group(2));
            }
        }
        if (sets != 5) {
            throw new AssertionError("expected 5 Cap* lines in /proc/" + d.pid() + "/status, found " + sets);
        }
        String netns = Files.readSymbolicLink(Path.of("/proc/" + d.pid() + "/ns/net")).toString();
        String podNetns = "net:[" + Files.getAttribute(Path.of(pod.netnsPath), "unix:ino") + "]";
        if (!netns.equals(podNetns)) {
            throw new AssertionError("session libvirtd " + d.pid() + " is in " + netns + ", not the pod's " + podNetns);
        }
        return d;
    }

    /** A temp dir uid 107 can traverse (a session daemon's dirs are below it), removed by {@code host}. */
    private static Path tempRoot(HostCleanup host) throws IOException {
        Path root = Files.createTempDirectory("vmh-libvirt-");
        host.add(() -> Cmd.run("rm", "-rf", root.toString()));
        Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.createDirectories(root.resolve("dev"));
        return root;
    }

    /**
     * Runs {@code daemon} (which execs libvirtd) in the pod, in a private mount namespace set up by
     * {@link #MOUNT_NS_SCRIPT} for {@code mode}, and waits until virsh gets an answer.
     */
    private static RealLibvirtd launch(HostCleanup host, FakePod pod, Path root, String mode, String home,
            Layout layout, List<String> daemon) throws Exception {
        List<String> argv = pod.enterAsRoot();
        argv.addAll(List.of("unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
                MOUNT_NS_SCRIPT, "libvirtd-ns", root.toString(), home, mode));
        argv.addAll(daemon);
        Process p = host.process(new ProcessBuilder(argv).redirectErrorStream(true)
                .redirectOutput(root.resolve("libvirtd.log").toFile()));
        RealLibvirtd d = new RealLibvirtd(root, p, layout);
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
        List<String> argv = new ArrayList<>(List.of(VIRSH, "-c", layout.uri()));
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

    /**
     * {@code virsh attach-device|detach-device DOMAIN FILE --live} with {@code xml} in a file of this daemon's
     * temp dir (readable by either mode's libvirtd).
     */
    Cmd.Result liveDevice(String verb, String domain, String xml) throws IOException {
        Path file = Files.createTempFile(root, "device-", ".xml");
        Files.writeString(file, xml);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        return virsh(verb, domain, file.toString(), "--live");
    }

    /** QEMU's pid from libvirt's pid file, while the domain exists. */
    Optional<Long> qemuPid(String name) {
        try {
            return Optional.of(Long.parseLong(Files.readString(layout.qemuRunDir().resolve(name + ".pid")).strip()));
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
            return Files.readString(layout.qemuLogDir().resolve(name + ".log"));
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
