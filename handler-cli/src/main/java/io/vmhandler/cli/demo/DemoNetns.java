package io.vmhandler.cli.demo;

import java.io.IOException;
import java.util.concurrent.TimeUnit;

/**
 * A throwaway named network namespace for the demo, made and removed with iproute2 (the same tool an
 * operator would use to look at it while {@code --keep-running}).
 */
public final class DemoNetns implements AutoCloseable {
    private final String name;

    private DemoNetns(String name) {
        this.name = name;
    }

    public static DemoNetns create(String name) throws IOException {
        run("ip", "netns", "add", name);
        return new DemoNetns(name);
    }

    public String name() {
        return name;
    }

    public String path() {
        return "/var/run/netns/" + name;
    }

    @Override
    public void close() throws IOException {
        run("ip", "netns", "del", name);
    }

    static void run(String... argv) throws IOException {
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        try {
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", argv) + ": timed out");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(String.join(" ", argv) + ": interrupted", e);
        }
        if (p.exitValue() != 0) {
            throw new IOException(String.join(" ", argv) + ": exit " + p.exitValue() + ": "
                    + new String(p.getInputStream().readAllBytes()).trim());
        }
    }
}
