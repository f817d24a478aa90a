package io.vmhandler.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Child processes that reach their command through a chain of execs (sh, nsenter, setpriv, ...). */
public final class Processes {
    private Processes() {}

    /**
     * Waits, for up to 5 s, until {@code p} runs {@code name} itself: its {@code /proc/PID/comm} (the first 15 bytes
     * of the name, TASK_COMM_LEN) changed from the wrapper's. Until then the pid may not yet be in the cgroups,
     * namespaces or credentials the wrappers set up, and a test that acts on it would act on the wrong ones.
     */
    public static void awaitExec(Process p, String name) {
        String expected = name.length() > 15 ? name.substring(0, 15) : name;
        Path comm = Path.of("/proc", Long.toString(p.pid()), "comm");
        for (int i = 0; i < 1000; i++) {
            try {
                if (Files.readString(comm).trim().equals(expected)) {
                    return;
                }
            } catch (IOException e) {
                throw new AssertionError("process " + p.pid() + " exited before exec'ing " + name);
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted while waiting for process " + p.pid() + " to exec " + name);
            }
        }
        throw new AssertionError("process " + p.pid() + " did not exec " + name + " within 5 s");
    }
}
