package io.vmhandler.testing;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Registers host objects a test creates (netns, processes, cgroups) and removes them in reverse
 * order after each test, whether it passed or failed. Use as
 * {@code @RegisterExtension final HostCleanup host = new HostCleanup();}.
 */
public final class HostCleanup implements AfterEachCallback {
    private final Deque<Runnable> undo = new ArrayDeque<>();

    /** A short random suffix, so parallel or leftover runs never collide on names. */
    public static String suffix() {
        return Long.toString(ThreadLocalRandom.current().nextLong(36L * 36 * 36 * 36 * 36), 36);
    }

    public synchronized void add(Runnable r) {
        undo.push(r);
    }

    /** Creates a named netns with {@code ip netns add} and registers its deletion; returns its path. */
    public String netns(String prefix) {
        String name = prefix + "-" + suffix();
        Cmd.run("ip", "netns", "add", name).ok();
        add(() -> Cmd.run("ip", "netns", "del", name));
        return "/var/run/netns/" + name;
    }

    /** Starts a process and registers a forced kill. */
    public Process process(ProcessBuilder pb) {
        try {
            Process p = pb.start();
            add(() -> {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                try {
                    p.waitFor();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            return p;
        } catch (java.io.IOException e) {
            throw new AssertionError("cannot start " + pb.command() + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void afterEach(ExtensionContext context) {
        cleanupNow();
    }

    public synchronized void cleanupNow() {
        Throwable first = null;
        while (!undo.isEmpty()) {
            try {
                undo.pop().run();
            } catch (Throwable t) {
                if (first == null) {
                    first = t;
                }
            }
        }
        if (first != null) {
            throw new AssertionError("cleanup failed", first);
        }
    }
}
