package io.vmhandler.selinux.sepol;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import jnr.ffi.LibraryLoader;

/**
 * Loads an SELinux userspace library through jnr-ffi on first use and remembers why it failed, so
 * a node without it gets one clear message naming the library and the package, not a linkage error
 * deep in a call. Loading is lazy: the daemon and the CLI start, and report status, without it.
 */
public final class NativeLibrary<T> {
    /** Where Debian/Ubuntu (multiarch) and Fedora/RHEL keep the runtime .so.N files. */
    private static final List<String> DIRS = List.of("/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu",
            "/usr/lib64", "/lib64", "/usr/lib", "/lib");

    private final Class<T> type;
    private final String soname;
    private final String packages;
    private T library;
    private Throwable cause;
    private boolean tried;

    /**
     * @param soname the versioned file name, e.g. {@code libsemanage.so.2}: the unversioned .so
     *     exists only with the -dev package (SELINUX.md §5.4)
     * @param packages the packages that ship it, for the error message
     */
    public NativeLibrary(Class<T> type, String soname, String packages) {
        this.type = type;
        this.soname = soname;
        this.packages = packages;
    }

    /** The binding; throws {@link IllegalStateException} naming the library if it cannot load. */
    public synchronized T get() {
        if (!tried) {
            tried = true;
            try {
                library = LibraryLoader.create(type).failImmediately().load(locate());
            } catch (Throwable t) {
                cause = t;
            }
        }
        if (cause != null) {
            throw new IllegalStateException(soname + " could not be loaded (" + cause.getMessage() + "): install "
                    + packages + ", or use the semodule installer, which runs the host's own tools", cause);
        }
        return library;
    }

    public synchronized boolean isAvailable() {
        try {
            get();
            return true;
        } catch (IllegalStateException e) {
            return false;
        }
    }

    /** An absolute path when one of the usual directories has it, else the soname for dlopen's own search. */
    private String locate() {
        for (String d : DIRS) {
            Path p = Path.of(d, soname);
            if (Files.exists(p)) {
                return p.toString();
            }
        }
        return soname;
    }
}
