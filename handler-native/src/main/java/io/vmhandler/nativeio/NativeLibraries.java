package io.vmhandler.nativeio;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import jnr.ffi.LibraryLoader;
import jnr.ffi.LibraryOption;

/**
 * The one place that binds a C library through jnr-ffi: it decides where a library is looked for
 * and what its absence means. Every binding in vmhandler (libc here, libsemanage and libsepol in
 * handler-selinux) is loaded through {@link #load}; a library that cannot be bound is always a
 * {@link NativeLibraryException} with the same message format, naming the interface and every
 * file or name tried.
 *
 * <p>Lookup, for each name in order: a versioned file name such as {@code libsemanage.so.2} is
 * looked for in the usual library directories first (Debian/Ubuntu multiarch, then Fedora/RHEL),
 * because only the -dev packages ship the unversioned {@code .so} that jnr-ffi's own search
 * expects; a name found in none of them, or a bare name such as {@code c}, goes to jnr-ffi as is
 * (jnr-ffi maps {@code c} to the platform's libc, then dlopen searches). The library is opened
 * with {@code RTLD_NOW} so a missing symbol fails here, not on the first call.
 *
 * <p>Threading: stateless; two calls at once each open the library (dlopen reference-counts it)
 * and get their own binding. Callers that want one binding per process keep it themselves.
 */
public final class NativeLibraries {
    private NativeLibraries() {}

    /** Where Debian/Ubuntu (multiarch) and Fedora/RHEL keep the runtime .so.N files. */
    private static final List<String> DIRS = List.of("/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu",
            "/usr/lib64", "/lib64", "/usr/lib", "/lib");

    /**
     * Binds {@code iface} to the first of {@code names} that loads.
     *
     * @param names library names in order of preference: a soname ({@code libsepol.so.2}) or a
     *     jnr-ffi short name ({@code c})
     * @throws NativeLibraryException if none of them loads; its cause is the last loader error and
     *     the earlier ones are suppressed on it
     * @throws IllegalArgumentException if no name is given
     */
    public static <T> T load(Class<T> iface, String... names) {
        if (names.length == 0) {
            throw new IllegalArgumentException("names: at least one library name is required to bind "
                    + iface.getSimpleName());
        }
        List<String> tried = new ArrayList<>(names.length);
        Throwable last = null;
        for (String name : names) {
            String where = locate(name);
            tried.add(where);
            try {
                return LibraryLoader.create(iface).option(LibraryOption.LoadNow, Boolean.TRUE)
                        .failImmediately().load(where);
            } catch (LinkageError | RuntimeException e) {
                // UnsatisfiedLinkError for a missing file or symbol; NoClassDefFoundError or
                // ExceptionInInitializerError when the jffi native jar itself is missing
                if (last != null && last != e) { // addSuppressed(self) would throw
                    e.addSuppressed(last);
                }
                last = e;
            }
        }
        throw new NativeLibraryException(iface, tried, last);
    }

    /** An absolute path when one of the usual directories has a versioned file, else the name itself. */
    static String locate(String name) {
        if (!name.contains(".so")) {
            return name;
        }
        for (String d : DIRS) {
            Path p = Path.of(d, name);
            if (Files.exists(p)) {
                return p.toString();
            }
        }
        return name;
    }
}
