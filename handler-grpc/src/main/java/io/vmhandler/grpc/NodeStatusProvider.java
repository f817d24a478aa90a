package io.vmhandler.grpc;

/**
 * Supplies the admin service's node status. Called on the API's worker pool, concurrently, only after
 * {@link AdminAccess} allowed the caller: return a consistent-enough snapshot from memory (no host
 * probing per call), since an operator may poll it.
 */
@FunctionalInterface
public interface NodeStatusProvider {
    NodeStatus nodeStatus();
}
