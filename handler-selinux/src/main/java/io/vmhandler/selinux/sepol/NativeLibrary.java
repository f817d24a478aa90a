package io.vmhandler.selinux.sepol;

import io.vmhandler.nativeio.NativeLibraries;
import io.vmhandler.nativeio.NativeLibraryException;

/**
 * One SELinux userspace library, bound through handler-native's {@link NativeLibraries} on first
 * use, with the failure remembered: a node without it gets the loader's one-line
 * {@link NativeLibraryException} naming the library and the files tried, plus the package that
 * ships it. Loading is lazy: the daemon and the CLI start, and report status, without it.
 *
 * <p>Threading: {@link #get()} is synchronized, so two first calls at once load the library once
 * and both see the same binding or the same failure.
 */
public final class NativeLibrary<T> {
    private final Class<T> type;
    private final String soname;
    private final String packages;
    private T library;
    private NativeLibraryException cause;
    private boolean tried;

    /**
     * @param soname the versioned file name, e.g. {@code libsemanage.so.2}: the unversioned .so
     *     exists only with the -dev package (Debian ships {@code libsemanage.so} in
     *     libsemanage-dev, the runtime package libsemanage2 has only {@code libsemanage.so.2})
     * @param packages the packages that ship it, for the error message
     */
    public NativeLibrary(Class<T> type, String soname, String packages) {
        this.type = type;
        this.soname = soname;
        this.packages = packages;
    }

    /** The binding; throws {@link NativeLibraryException} naming the library if it cannot load. */
    public synchronized T get() {
        if (!tried) {
            tried = true;
            try {
                library = NativeLibraries.load(type, soname);
            } catch (NativeLibraryException e) {
                cause = e;
            }
        }
        if (cause != null) {
            // a new exception per call, so its stack trace shows this caller
            throw cause.withRemedy("install " + packages
                    + ", or use the semodule installer, which runs the host's own tools");
        }
        return library;
    }

    public synchronized boolean isAvailable() {
        try {
            get();
            return true;
        } catch (NativeLibraryException e) {
            return false;
        }
    }
}
