package io.vmhandler.nativeio;

import jnr.ffi.LibraryLoader;
import jnr.ffi.LibraryOption;
import jnr.ffi.Runtime;

/**
 * Loads libc once, eagerly, and remembers why it failed (netty's {@code Epoll.UNAVAILABILITY_CAUSE}
 * pattern). {@link #ensureAvailable()} is the startup check: a node without the native library must
 * fail at start with one clear message, not with a NoClassDefFoundError on the first tap.
 */
public final class NativeSupport {
    private NativeSupport() {}

    private static final LibC LIBC;
    private static final Runtime RUNTIME;
    private static final Throwable UNAVAILABILITY_CAUSE;

    static {
        LibC lib = null;
        Runtime rt = null;
        Throwable cause = null;
        try {
            lib = LibraryLoader.create(LibC.class).option(LibraryOption.LoadNow, Boolean.TRUE)
                    .failImmediately().load("c");
            rt = Runtime.getRuntime(lib);
            lib.getpid(); // forces the stub generation now rather than on the first real call
        } catch (Throwable t) {
            cause = t;
            lib = null;
        }
        LIBC = lib;
        RUNTIME = rt;
        UNAVAILABILITY_CAUSE = cause;
    }

    public static boolean isAvailable() {
        return UNAVAILABILITY_CAUSE == null;
    }

    /** Why the native library did not load, or null. */
    public static Throwable unavailabilityCause() {
        return UNAVAILABILITY_CAUSE;
    }

    /** Throws with a message an operator can act on if libc could not be bound through jnr-ffi. */
    public static void ensureAvailable() {
        if (UNAVAILABILITY_CAUSE != null) {
            throw new IllegalStateException("native library unavailable: jnr-ffi could not bind libc ("
                    + UNAVAILABILITY_CAUSE + "); vmhandler needs x86-64 Linux with glibc and the jffi native jar"
                    + " on the classpath", UNAVAILABILITY_CAUSE);
        }
    }

    static LibC libc() {
        ensureAvailable();
        return LIBC;
    }

    static Runtime runtime() {
        ensureAvailable();
        return RUNTIME;
    }
}
