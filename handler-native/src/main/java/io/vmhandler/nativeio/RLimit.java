package io.vmhandler.nativeio;

/**
 * A resource limit pair. {@link LinuxConstants#RLIM_INFINITY} (all ones) means unlimited; the values
 * are unsigned in the kernel, so compare them with {@link Long#compareUnsigned}.
 */
public record RLimit(long soft, long hard) {
    public static RLimit of(long both) {
        return new RLimit(both, both);
    }

    public boolean softUnlimited() {
        return soft == LinuxConstants.RLIM_INFINITY;
    }

    public boolean hardUnlimited() {
        return hard == LinuxConstants.RLIM_INFINITY;
    }

    public static String format(long v) {
        return v == LinuxConstants.RLIM_INFINITY ? "unlimited" : Long.toUnsignedString(v);
    }

    @Override
    public String toString() {
        return "soft=" + format(soft) + " hard=" + format(hard);
    }
}
