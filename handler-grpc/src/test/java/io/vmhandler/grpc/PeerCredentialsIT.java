package io.vmhandler.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.grpc.server.ServerOptions;
import io.vmhandler.grpc.server.UnixSocketServer;
import io.vmhandler.testing.Cmd;
import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.Root;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarFile;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * SO_PEERCRED over the real socket for a caller that is another process with another uid and gid: a
 * child JVM started through {@code setpriv --reuid 65534 --regid 65534 --clear-groups}. The server must
 * record that child's own pid, uid and gid. {@link FakeLauncherBackend} stands in for handler-core.
 */
class PeerCredentialsIT {
    @RegisterExtension
    final HostCleanup host = new HostCleanup();

    @Test
    void aChildRunAsNobodyIsSeenWithItsOwnPidUidAndGid() throws Exception {
        Root.require();
        Root.requireTool("/usr/bin/setpriv");
        Path base = worldReadableDir();
        Path socket = base.resolve("run/launcher.sock");
        FakeLauncherBackend backend = new FakeLauncherBackend();
        UnixSocketServer server = UnixSocketServer.startLauncherApi(ServerOptions.builder(socket).build(), backend, backend);
        host.add(server::stop);
        String classpath = copyClasspath(base.resolve("cp"));

        String java = ProcessHandle.current().info().command().orElseThrow();
        Process child = host.process(new ProcessBuilder("/usr/bin/setpriv", "--reuid", "65534", "--regid", "65534",
                "--clear-groups", java, "-XX:-UsePerfData", "-Xshare:auto", "-XX:TieredStopAtLevel=1",
                "-cp", classpath, ChildCaller.class.getName(), socket.toString()).redirectErrorStream(true));
        assertThat(child.waitFor(60, TimeUnit.SECONDS)).isTrue();
        String out = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(child.exitValue()).as(out).isZero();

        assertThat(backend.calls()).hasSize(1);
        CallerIdentity seen = backend.calls().get(0).caller();
        assertThat(seen.uid()).isEqualTo(65534);
        assertThat(seen.gid()).isEqualTo(65534);
        assertThat(seen.pid()).isEqualTo((int) child.pid()).isNotEqualTo((int) ProcessHandle.current().pid());
        assertThat(out).contains("SELF " + child.pid(), "TAP tap0 65534 65534");
    }

    /** A temp dir that uid 65534 can traverse (JUnit's @TempDir is 0700). */
    private Path worldReadableDir() throws IOException {
        Path base = Files.createTempDirectory("vmh-peercred-");
        host.add(() -> Cmd.run("rm", "-rf", base.toString()));
        Cmd.run("chmod", "0755", base.toString()).ok();
        return base;
    }

    /**
     * The test classpath copied where uid 65534 can read it: /root/.m2 is not readable for it (docs/build.md
     * §11). Failsafe runs tests through a manifest-only jar, so its Class-Path is read too.
     */
    private static String copyClasspath(Path dir) throws IOException {
        Files.createDirectories(dir);
        List<String> out = new ArrayList<>();
        int i = 0;
        for (String entry : classpathEntries()) {
            Path src = Path.of(entry);
            if (!Files.exists(src)) {
                continue;
            }
            Path dst = dir.resolve((i++) + "-" + src.getFileName());
            if (Files.isDirectory(src)) {
                try (Stream<Path> walk = Files.walk(src)) {
                    for (Path p : (Iterable<Path>) walk::iterator) {
                        Path t = dst.resolve(src.relativize(p).toString());
                        if (Files.isDirectory(p)) {
                            Files.createDirectories(t);
                        } else {
                            Files.copy(p, t, StandardCopyOption.REPLACE_EXISTING);
                        }
                    }
                }
            } else {
                Files.copy(src, dst);
            }
            out.add(dst.toString());
        }
        Cmd.run("chmod", "-R", "a+rX", dir.toString()).ok();
        return String.join(File.pathSeparator, out);
    }

    private static List<String> classpathEntries() throws IOException {
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> entries = new ArrayList<>(List.of(cp.split(File.pathSeparator)));
        if (entries.size() == 1 && entries.get(0).endsWith(".jar")) {
            try (JarFile booter = new JarFile(entries.get(0))) {
                String manifestCp = booter.getManifest().getMainAttributes().getValue("Class-Path");
                if (manifestCp != null) {
                    entries.clear();
                    for (String url : manifestCp.trim().split("\\s+")) {
                        entries.add(Path.of(java.net.URI.create(url)).toString());
                    }
                }
            }
        }
        return entries;
    }
}
