package io.vmhandler.it;

import io.vmhandler.core.app.DaemonConfig;
import io.vmhandler.testing.Cmd;
import io.vmhandler.testing.HostCleanup;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * The temp dirs of a standalone daemon under test: VMI files, and the launcher socket in a dir the
 * unprivileged callers (uid 107) can traverse. Removed by {@code cleanup}.
 */
record StandaloneDirs(Path base, Path vmiDir, Path socket) {
    static StandaloneDirs create(HostCleanup cleanup, String prefix) throws IOException {
        Path base = Files.createTempDirectory(prefix);
        cleanup.add(() -> Cmd.run("rm", "-rf", base.toString()));
        Path vmiDir = Files.createDirectories(base.resolve("vmis"));
        return new StandaloneDirs(base, vmiDir, launcherSocket(base));
    }

    /** {@code base/run/launcher.sock}, with {@code base} and {@code run} traversable by uid-107 callers. */
    static Path launcherSocket(Path base) throws IOException {
        Path sockDir = Files.createDirectories(base.resolve("run"));
        Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setPosixFilePermissions(sockDir, PosixFilePermissions.fromString("rwxr-xr-x"));
        return sockDir.resolve("launcher.sock");
    }

    DaemonConfig config(String node) {
        return DaemonConfig.standalone(node, vmiDir, socket, base.resolve("checkpoints"));
    }
}
