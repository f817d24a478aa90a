package io.vmhandler.net;

/**
 * One direction's limit: a token rate and a bucket (burst). Bytes, because that is what the kernel
 * stores; {@link #ofBits} converts the bit figures of Kubernetes annotations and the CNI bandwidth
 * plugin (rate in bit/s, burst in bits) by integer division, as that plugin does.
 *
 * <p>Only the sign is checked here; the kernel's limits (32-bit tick and queue fields, the MTU) are
 * checked by {@link TbfPlan} before anything is written.
 *
 * @param rateBytesPerSec bytes per second, &gt;= 1
 * @param burstBytes      bucket size in bytes, &gt;= 1
 */
public record RateLimit(long rateBytesPerSec, long burstBytes) {
    public RateLimit {
        if (rateBytesPerSec < 1) {
            throw new IllegalArgumentException("rate must be >= 1 byte/s, got " + rateBytesPerSec);
        }
        if (burstBytes < 1) {
            throw new IllegalArgumentException("burst must be >= 1 byte, got " + burstBytes);
        }
    }

    public static RateLimit ofBits(long rateBitsPerSec, long burstBits) {
        return new RateLimit(rateBitsPerSec / 8, burstBits / 8);
    }

    public long rateBitsPerSec() {
        return rateBytesPerSec * 8;
    }
}
