package io.vmhandler.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.testing.HostCleanup;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** A daemon JVM of its own (so a test can SIGKILL it), started and awaited to its "vmhandler ready" line. */
final class DaemonSpawn {
    private DaemonSpawn() {}

    /**
     * Starts {@code argv} (stderr discarded), registered with {@code host} for a forced kill, and waits up to 60 s
     * for its first stdout line, which must be the ready line.
     */
    static Process ready(HostCleanup host, List<String> argv) throws Exception {
        Process p = host.process(new ProcessBuilder(argv).redirectError(ProcessBuilder.Redirect.DISCARD));
        BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        String line = CompletableFuture.supplyAsync(() -> {
            try {
                return r.readLine();
            } catch (Exception e) {
                return null;
            }
        }).get(60, TimeUnit.SECONDS);
        assertThat(line).startsWith("vmhandler ready");
        return p;
    }
}
