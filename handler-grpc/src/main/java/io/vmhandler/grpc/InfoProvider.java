package io.vmhandler.grpc;

/**
 * Supplies the daemon version and node facts for the Info service. Called on the API's event loop for
 * every Info call, concurrently with the other event loops: must not block; return cached facts (probed once at startup), do not probe the host
 * per call. Info needs no pod identity, so no caller is passed.
 */
@FunctionalInterface
public interface InfoProvider {
    DaemonInfo info();
}
