package io.vmhandler.it;

import io.vmhandler.core.app.Daemon;
import io.vmhandler.core.app.DaemonConfig;
import io.vmhandler.testing.HostCleanup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.UnaryOperator;

/**
 * One node as the standalone-mode ITs need it: the daemon in this JVM reading VMI files from a
 * directory, its launcher socket where uid-107 callers can reach it, and a classpath those callers can
 * read to run the launcher CLI. Everything is registered with the given {@link HostCleanup}; the
 * daemon is closed before its directories are removed.
 */
final class StandaloneNode {
    static final String NODE = "node1";

    final Path classpath;
    final Path base;
    final Path vmiDir;
    final Path socket;
    final Daemon daemon;

    private StandaloneNode(Path classpath, StandaloneDirs dirs, Daemon daemon) {
        this.classpath = classpath;
        this.base = dirs.base();
        this.vmiDir = dirs.vmiDir();
        this.socket = dirs.socket();
        this.daemon = daemon;
    }

    /** {@code tweak} adjusts the node's config (e.g. metrics off) before the daemon starts. */
    static StandaloneNode start(HostCleanup shared, String prefix, UnaryOperator<DaemonConfig> tweak) throws Exception {
        return start(shared, prefix, tweak, UnaryOperator.identity());
    }

    /** The same, with {@code seams} applied to the daemon before it starts (its fault-injection seams). */
    static StandaloneNode start(HostCleanup shared, String prefix, UnaryOperator<DaemonConfig> tweak,
                                UnaryOperator<Daemon> seams) throws Exception {
        Path classpath = FakePod.readableClasspath(shared);
        StandaloneDirs dirs = StandaloneDirs.create(shared, prefix);
        Daemon daemon = seams.apply(new Daemon(tweak.apply(dirs.config(NODE)))).start();
        shared.add(daemon::close);
        return new StandaloneNode(classpath, dirs, daemon);
    }

    /** Writes a VMI file and has the daemon read it now, instead of at its next poll. */
    void publish(String file, String yaml) throws Exception {
        Files.writeString(vmiDir.resolve(file), yaml);
        daemon.vmiFiles().scan();
    }
}
