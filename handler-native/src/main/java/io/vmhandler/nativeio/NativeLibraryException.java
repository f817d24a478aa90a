package io.vmhandler.nativeio;

import java.util.List;

/**
 * A C library could not be bound through jnr-ffi. The message is always
 * {@code native library unavailable: jnr-ffi could not bind IFACE to any of [TRIED] (CAUSE)},
 * optionally followed by {@code ; REMEDY}, so an operator sees which binding, which files and why
 * in one line. It is an {@link IllegalStateException} because the process, not the request, lacks
 * something: callers that report "unavailable" catch it like any other missing-prerequisite state.
 */
public final class NativeLibraryException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    private final String iface;
    private final List<String> tried;

    NativeLibraryException(Class<?> iface, List<String> tried, Throwable cause) {
        this(iface.getSimpleName(), List.copyOf(tried), cause, null);
    }

    private NativeLibraryException(String iface, List<String> tried, Throwable cause, String remedy) {
        super("native library unavailable: jnr-ffi could not bind " + iface + " to any of " + tried
                + " (" + cause + ")" + (remedy == null ? "" : "; " + remedy), cause);
        this.iface = iface;
        this.tried = tried;
    }

    /**
     * The same failure with what the operator can do about it appended, e.g. the package to
     * install; the cause stays the loader's error.
     */
    public NativeLibraryException withRemedy(String remedy) {
        return new NativeLibraryException(iface, tried, getCause(), remedy);
    }

    /** The simple name of the jnr-ffi interface that was to be bound. */
    public String iface() {
        return iface;
    }

    /** What was handed to the loader, in order: absolute paths where found, else the names. */
    public List<String> tried() {
        return tried;
    }
}
