package io.vmhandler.grpc;

import java.util.Objects;

/**
 * One tap that PrepareNetwork created or adopted in the caller's network namespace.
 *
 * @param interfaceName the VMI interface it serves ({@code spec.domain.devices.interfaces[].name})
 * @param name the link name (at most 15 bytes)
 * @param queues the queue count (1..256)
 * @param mtu the tap's MTU (at most 65521)
 * @param ownerUid the tap owner's uid (the caller's)
 * @param ownerGid the tap owner's gid (the caller's)
 * @param created true when this call created it, false when an existing matching tap was adopted
 */
public record TapResult(String interfaceName, String name, int queues, int mtu, int ownerUid, int ownerGid,
                        boolean created) {
    public TapResult {
        Objects.requireNonNull(interfaceName, "interfaceName");
        Objects.requireNonNull(name, "name");
    }
}
