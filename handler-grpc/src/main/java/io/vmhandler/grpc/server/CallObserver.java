package io.vmhandler.grpc.server;

import io.grpc.Status;
import java.time.Duration;

/**
 * Told about every call when it closes, refused ones included (UNAUTHENTICATED, RESOURCE_EXHAUSTED):
 * the daemon's metrics hook. Runs on the transport thread that closes the call; must not block.
 */
@FunctionalInterface
public interface CallObserver {
    CallObserver NONE = (method, code, took) -> { };

    void onClose(String method, Status.Code code, Duration took);
}
