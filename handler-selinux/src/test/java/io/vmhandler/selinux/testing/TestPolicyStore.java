package io.vmhandler.selinux.testing;

import io.vmhandler.selinux.PolicyRoot;
import io.vmhandler.testing.Root;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A real SELinux policy store in an alternate root, for tests on a kernel without SELinux: Debian's
 * selinux-policy-default (the reference policy, 331 modules, installed at priority 100 with the
 * package's own disabled list, exactly as its postinst does) plus refpolicy's {@code container}
 * module compiled from selinux-policy-src (Debian does not build it, so it has no container_t;
 * docs/selinux.md §8.1). Its semanage.conf sets {@code expand-check=1}, so every commit checks the base
 * policy's neverallow rules.
 *
 * <p>Built with the distribution's own tools (semodule, make), not with the code under test. The
 * build takes about a minute, so it is cached under {@code java.io.tmpdir}, keyed by the package
 * versions, and built once for all test classes and modules of a run; tests work on copies.
 */
public final class TestPolicyStore {
    public static final String STORE = "default";

    private static final String[] TOOLS = {"/usr/sbin/semodule", "/usr/bin/sesearch", "/usr/bin/seinfo",
        "/usr/bin/make", "/usr/bin/checkmodule", "/usr/bin/zstd"};
    private static final String[] FILES = {"/usr/share/selinux/devel/Makefile", "/usr/share/selinux/default/.modules",
        "/usr/src/selinux-policy-src.tar.zst"};
    private static final String POSTINST = "/var/lib/dpkg/info/selinux-policy-default.postinst";

    private static Path cached;
    private static double buildSeconds = -1;

    private TestPolicyStore() {}

    /** Gates on root and the tools, then returns the cached store's root (building it once). */
    public static synchronized Path cachedRoot() throws IOException {
        Root.require();
        for (String t : TOOLS) {
            Root.requireTool(t);
        }
        for (String f : FILES) {
            boolean present = Files.isReadable(Path.of(f));
            if (Boolean.getBoolean("handler.requireRoot")) {
                org.junit.jupiter.api.Assertions.assertTrue(present, f + " is missing; the test command installs it (bin/test)");
            } else {
                org.junit.jupiter.api.Assumptions.assumeTrue(present, f + " is missing");
            }
        }
        if (cached != null) {
            return cached;
        }
        String key = (version("selinux-policy-default") + "_" + version("selinux-policy-src") + "_"
                + version("policycoreutils")).replaceAll("[^A-Za-z0-9.+~_-]", "_");
        Path base = Path.of(System.getProperty("java.io.tmpdir"), "vmhandler-selinux-test-store");
        Files.createDirectories(base);
        Path root = base.resolve(key);
        try (RandomAccessFile lockFile = new RandomAccessFile(base.resolve(".lock").toFile(), "rw");
                FileLock lock = lockFile.getChannel().lock()) {
            if (!lock.isValid() || !Files.exists(root.resolve("VERSIONS"))) {
                long t0 = System.nanoTime();
                build(base, root);
                buildSeconds = (System.nanoTime() - t0) / 1e9;
            }
        }
        cached = root;
        return root;
    }

    /** Seconds the build took in this JVM, or -1 when the cache was already there. */
    public static synchronized double buildSeconds() {
        return buildSeconds;
    }

    /** A fresh copy of the cached store under {@code dir} (cp -a), as a {@link PolicyRoot}. */
    public static PolicyRoot copy(Path dir) throws IOException {
        Path src = cachedRoot();
        Files.createDirectories(dir);
        run(List.of("cp", "-a", src + "/.", dir.toString()));
        return new PolicyRoot(dir, STORE);
    }

    private static void build(Path base, Path target) throws IOException {
        Path tmp = Files.createTempDirectory(base, "build-");
        try {
            Path root = tmp.resolve("root");
            // the package's own files under /etc/selinux/default (contexts, users, setrans.conf)
            for (String line : run(List.of("dpkg-query", "-L", "selinux-policy-default")).split("\n")) {
                Path f = Path.of(line.trim());
                if (!line.startsWith("/etc/selinux/default")) {
                    continue;
                }
                Path dst = root.resolve(line.substring(1));
                if (Files.isDirectory(f)) {
                    Files.createDirectories(dst);
                } else if (Files.isRegularFile(f)) {
                    Files.createDirectories(dst.getParent());
                    Files.copy(f, dst);
                }
            }
            Files.createDirectories(root.resolve("var/lib/selinux"));
            Files.writeString(root.resolve("etc/selinux/semanage.conf"), "module-store = direct\nexpand-check=1\n");

            List<String> argv = new ArrayList<>(List.of("semodule", "-p", root.toString(), "-s", STORE, "-X", "100", "-n"));
            for (String m : Files.readString(Path.of("/usr/share/selinux/default/.modules")).trim().split("\\s+")) {
                argv.addAll(List.of("-i", "/usr/share/selinux/default/" + m + ".pp.bz2"));
            }
            Matcher nd = Pattern.compile("(?m)^notdefault=\"([^\"]*)\"").matcher(Files.readString(Path.of(POSTINST)));
            if (nd.find()) {
                for (String m : nd.group(1).trim().split("\\s+")) {
                    argv.addAll(List.of("-d", m));
                }
            }
            run(argv);

            Path cbuild = tmp.resolve("container");
            Files.createDirectories(cbuild);
            run(List.of("tar", "--zstd", "-xf", "/usr/src/selinux-policy-src.tar.zst", "-C", cbuild.toString(),
                    "--strip-components=4", "selinux-policy-src/policy/modules/services/container.te",
                    "selinux-policy-src/policy/modules/services/container.fc"));
            run(List.of("make", "-C", cbuild.toString(), "-f", "/usr/share/selinux/devel/Makefile", "NAME=" + STORE,
                    "container.pp"));
            run(List.of("semodule", "-p", root.toString(), "-s", STORE, "-X", "100", "-n", "-i",
                    cbuild.resolve("container.pp").toString()));
            Files.writeString(root.resolve("VERSIONS"), "selinux-policy-default " + version("selinux-policy-default")
                    + "\ncontainer.pp from selinux-policy-src " + version("selinux-policy-src") + "\n");
            Files.move(root, target);
        } finally {
            run(List.of("rm", "-rf", tmp.toString()));
        }
    }

    private static String version(String pkg) throws IOException {
        return run(List.of("dpkg-query", "-W", "-f=${Version}", pkg)).trim();
    }

    /** Runs a tool (10 minute limit: populating 331 modules takes about a minute on 2 cores). */
    public static String run(List<String> argv) throws IOException {
        Path log = Files.createTempFile("selinux-test-", ".log");
        try {
            Process p = new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(log.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
            if (!p.waitFor(10, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new IOException("timed out: " + argv);
            }
            String out = Files.readString(log, StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                throw new IOException("exit " + p.exitValue() + " from " + String.join(" ", argv) + ":\n" + out);
            }
            return out;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted: " + argv, e);
        } finally {
            Files.deleteIfExists(log);
        }
    }
}
