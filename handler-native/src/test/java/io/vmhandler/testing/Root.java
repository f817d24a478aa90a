package io.vmhandler.testing;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Gate for tests that need root and real kernel objects. Locally they skip when not root; with
 * {@code -Dhandler.requireRoot=true} (CI) a missing root is a failure, so they cannot skip silently.
 */
public final class Root {
    private Root() {}

    public static boolean isRoot() {
        return "root".equals(System.getProperty("user.name")) || uid() == 0;
    }

    private static long uid() {
        try {
            Object v = java.nio.file.Files.getAttribute(java.nio.file.Path.of("/proc/self"), "unix:uid");
            return ((Number) v).longValue();
        } catch (Exception e) {
            return -1;
        }
    }

    public static void require() {
        if (Boolean.getBoolean("handler.requireRoot")) {
            if (!isRoot()) {
                fail("this test needs root and -Dhandler.requireRoot=true is set");
            }
        } else {
            assumeTrue(isRoot(), "needs root");
        }
    }

    /** Same gate for an external tool the test cannot run without. */
    public static void requireTool(String path) {
        boolean present = java.nio.file.Files.isExecutable(java.nio.file.Path.of(path));
        if (Boolean.getBoolean("handler.requireRoot")) {
            if (!present) {
                fail(path + " is missing; the test command installs it (bin/test)");
            }
        } else {
            assumeTrue(present, path + " is missing");
        }
    }
}
