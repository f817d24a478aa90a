package io.vmhandler.core.watch;

import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Auto-detected JUnit extension (see junit-platform.properties): silences the mock server's
 * java.util.logging output (STACK.md section 5, point 6) before any mock server starts, without a
 * surefire system property.
 */
public final class QuietMockLogging implements BeforeAllCallback {
    @Override
    public void beforeAll(ExtensionContext context) {
        EmbeddedApiServer.quietMockLogging();
    }
}
