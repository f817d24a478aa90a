package io.vmhandler.it;

import io.vmhandler.grpc.client.LauncherClient;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Runs inside a fake pod as its launcher: {@code count} PrepareNetwork calls one after the other on one connection,
 * each sent as soon as the reply to the last one arrived, as a launcher's retries and restarts do. Prints
 * {@code done COUNT}. Usage: socket count.
 */
public final class SequentialPrepares {
    private SequentialPrepares() {}

    public static void main(String[] args) {
        int count = Integer.parseInt(args[1]);
        try (LauncherClient client = LauncherClient.connect(Path.of(args[0]), Duration.ofSeconds(30))) {
            for (int i = 0; i < count; i++) {
                client.prepareNetwork();
            }
        }
        System.out.println("done " + count);
    }
}
