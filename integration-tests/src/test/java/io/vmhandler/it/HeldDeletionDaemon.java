package io.vmhandler.it;

import io.vmhandler.core.app.Daemon;
import io.vmhandler.core.app.DaemonConfig;
import java.nio.file.Path;

/**
 * A standalone daemon whose background tap deletions never reach the kernel ({@link PausingTaps#holdEveryDelete}):
 * run as its own process by TapReaperIT, so a SIGKILL lands between Release's answer and the deletion every time.
 * Prints the same ready line as {@code vmhandler run}, then serves until killed.
 *
 * <p>Usage: {@code HeldDeletionDaemon NODE VMI_DIR SOCKET CHECKPOINT_DIR}.
 */
public final class HeldDeletionDaemon {
    private HeldDeletionDaemon() {}

    public static void main(String[] args) throws Exception {
        Daemon d = new Daemon(DaemonConfig.standalone(args[0], Path.of(args[1]), Path.of(args[2]), Path.of(args[3]))
                .withMetricsPort(-1)).decorateReaperTaps(real -> {
                    PausingTaps held = new PausingTaps(real);
                    held.holdEveryDelete();
                    return held;
                }).start();
        System.out.printf("vmhandler ready: socket %s, metrics port %d%n", d.socket(), d.metricsPort());
        System.out.flush();
        d.awaitStop();
    }
}
