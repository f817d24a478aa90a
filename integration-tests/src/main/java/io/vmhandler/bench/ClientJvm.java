package io.vmhandler.bench;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The JVM flags of a benchmark's launcher client, the separate process that calls the daemon: {@code
 * BENCH_CLIENT_JVM_OPTS} (space-separated) when set, else {@value #DEFAULT}.
 *
 * <p>Why the serial collector: the client is the same for every path a benchmark compares, so its flags favour
 * none, but they decide how much it disturbs the daemon on the same 2 CPUs. With the JVM's default collector (G1 on
 * this machine) the client's collector threads ran beside the measured calls. bin/bench-launcher alternated four
 * times on 2026-12-08 (docs/launcher-perf.md, eleventh session): PrepareNetwork p50 x1.99, x2.05, x1.98, x2.05 the
 * direct echo with the serial collector in the client, x2.14, x2.11, x2.72, x1.98 with G1; the daemon's CPU per
 * PrepareNetwork 180-220 us against 185-470 us. bin/bench-release, alternated twice the same day, showed no
 * difference (Release p50 1.655 and 1.896 ms against 1.627 and 1.758 ms); it takes the same client flags so that the
 * launcher benchmarks' clients are alike.
 */
final class ClientJvm {
    static final String DEFAULT = "-XX:+UseSerialGC";

    private ClientJvm() {}

    /**
     * This JVM's java binary and the client's flags, the start of a client's command line; the flags are printed, so
     * each run says what its client ran with.
     */
    static List<String> command() {
        String opts = System.getenv().getOrDefault("BENCH_CLIENT_JVM_OPTS", DEFAULT).trim();
        System.out.printf("client JVM flags: %s%n", opts.isEmpty() ? "(none)" : opts);
        List<String> argv = new ArrayList<>();
        argv.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        if (!opts.isEmpty()) {
            argv.addAll(List.of(opts.split("\\s+")));
        }
        return argv;
    }
}
