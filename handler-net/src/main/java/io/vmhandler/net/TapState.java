package io.vmhandler.net;

/**
 * A tap as found in its namespace. {@code attachedQueues} is numqueues + numdisabled: QEMU keeps only
 * queue pair 0 enabled until the guest negotiates multiqueue (docs/test-host.md B1).
 */
public record TapState(String name, boolean multiQueue, boolean vnetHdr, boolean pi, boolean persist,
                       long owner, long group, int mtu, int attachedQueues) {}
