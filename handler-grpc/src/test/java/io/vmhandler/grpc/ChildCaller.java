package io.vmhandler.grpc;

import io.grpc.StatusRuntimeException;
import io.vmhandler.grpc.client.LauncherClient;
import io.vmhandler.grpc.v1.PrepareNetworkResponse;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Run in a child JVM by {@link PeerCredentialsIT} (as another uid): calls PrepareNetwork on the socket
 * given as argument and prints what it saw, so the test can compare with what the server recorded.
 */
public final class ChildCaller {
    private ChildCaller() {}

    public static void main(String[] args) {
        try (LauncherClient client = LauncherClient.connect(Path.of(args[0]), Duration.ofSeconds(20))) {
            PrepareNetworkResponse r = client.prepareNetwork();
            System.out.println("SELF " + ProcessHandle.current().pid());
            System.out.println("TAP " + r.getTaps(0).getName() + " " + r.getTaps(0).getOwnerUid() + " "
                    + r.getTaps(0).getOwnerGid());
        } catch (StatusRuntimeException e) {
            System.out.println("STATUS " + e.getStatus().getCode());
            System.exit(3);
        }
    }
}
