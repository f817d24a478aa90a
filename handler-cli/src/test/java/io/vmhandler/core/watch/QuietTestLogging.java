package io.vmhandler.core.watch;

import io.vmhandler.cli.demo.EmbeddedApiServer;
import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import org.junit.jupiter.api.extension.Extension;
import org.slf4j.LoggerFactory;

/**
 * Auto-detected JUnit extension (junit-platform.properties + META-INF/services): silences two
 * known-noisy libraries before any test class runs, without surefire system properties. The
 * fabric8 mock server logs every request through java.util.logging at INFO (docs/build.md §8,
 * point 6); Testcontainers logs an ERROR when no Docker engine exists, before
 * {@code disabledWithoutDocker} skips the class (docs/build.md §9).
 */
public final class QuietTestLogging implements Extension {
    static {
        EmbeddedApiServer.quietMockLogging();
        ((Logger) LoggerFactory.getLogger("org.testcontainers")).setLevel(Level.WARN);
        ((Logger) LoggerFactory.getLogger("org.testcontainers.dockerclient")).setLevel(Level.OFF);
    }
}
