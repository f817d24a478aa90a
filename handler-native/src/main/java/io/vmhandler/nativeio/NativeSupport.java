package io.vmhandler.nativeio;

import java.util.List;
import jnr.ffi.Runtime;

/**
 * Loads libc once, eagerly, through {@link NativeLibraries}, and remembers why it failed (netty's
 * {@code Epoll.UNAVAILABILITY_CAUSE} pattern). {@link #ensureAvailable()} is the startup check: a
 * node without the native library must fail at start with one clear message, not with a
 * NoClassDefFoundError on the first tap.
 */
public final class NativeSupport {
    private NativeSupport() {}

    private static final LibC LIBC;
    private static final Runtime RUNTIME;
    private static final NativeLibraryException UNAVAILABILITY_CAUSE;
    private static final String REMEDY = "vmhandler needs x86-64 Linux with glibc and the jffi native jar"
            + " on the classpath";

    static {
        LibC lib = null;
        Runtime rt = null;
        NativeLibraryException cause = null;
        try {
            lib = NativeLibraries.load(LibC.class, "c");
            rt = Runtime.getRuntime(lib);
            lib.getpid(); // forces the stub generation now rather than on the first real call
        } catch (NativeLibraryException e) {
            cause = e;
            lib = null;
        } catch (LinkageError | RuntimeException e) {
            cause = new NativeLibraryException(LibC.class, List.of("c"), e);
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
    public static NativeLibraryException unavailabilityCause() {
        return UNAVAILABILITY_CAUSE;
    }

    /**
     * Throws {@link NativeLibraryException}, with a message an operator can act on, if libc could
     * not be bound through jnr-ffi.
     */
    public static void ensureAvailable() {
        if (UNAVAILABILITY_CAUSE != null) {
            throw UNAVAILABILITY_CAUSE.withRemedy(REMEDY);
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
