package io.vmhandler.selinux.sepol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vmhandler.nativeio.NativeLibraryException;
import org.junit.jupiter.api.Test;

/** The lazy holder over handler-native's loader; no root needed. */
class NativeLibraryTest {
    @Test
    void anAbsentLibraryIsTheLoadersExceptionWithThePackageToInstall() {
        NativeLibrary<Sepol> lib = new NativeLibrary<>(Sepol.class, "libvmhandler-absent.so.2", "libvmhandler2 (test)");
        assertThat(lib.isAvailable()).isFalse();
        assertThatThrownBy(lib::get)
                .isInstanceOf(NativeLibraryException.class)
                .hasMessageStartingWith("native library unavailable: jnr-ffi could not bind Sepol"
                        + " to any of [libvmhandler-absent.so.2] (")
                .hasMessageEndingWith("; install libvmhandler2 (test), or use the semodule installer,"
                        + " which runs the host's own tools");
    }

    @Test
    void thePresentLibsepolLoadsOnceAndIsReused() {
        NativeLibrary<Sepol> lib = new NativeLibrary<>(Sepol.class, "libsepol.so.2", "libsepol2");
        assertThat(lib.isAvailable()).isTrue();
        assertThat(lib.get()).isSameAs(lib.get());
    }
}
