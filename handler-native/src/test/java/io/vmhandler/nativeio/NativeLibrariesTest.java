package io.vmhandler.nativeio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The loader against this machine's real libc and against names that exist nowhere; no root needed. */
public class NativeLibrariesTest {
    /** Public: jnr-ffi implements it in its own class loader. */
    public interface Pid {
        int getpid();
    }

    @Test
    void bindsLibcByItsShortName() {
        Pid pid = NativeLibraries.load(Pid.class, "c");
        assertThat(pid.getpid()).isEqualTo((int) ProcessHandle.current().pid());
    }

    @Test
    void fallsThroughToTheNextNameThatLoads() {
        Pid pid = NativeLibraries.load(Pid.class, "libvmhandler-absent.so.9", "libc.so.6");
        assertThat(pid.getpid()).isEqualTo((int) ProcessHandle.current().pid());
    }

    @Test
    void noNameLoadsIsOneExceptionNamingTheInterfaceAndEveryNameTried() {
        assertThatThrownBy(() -> NativeLibraries.load(Pid.class, "libvmhandler-absent.so.9", "vmhandler-absent"))
                .isInstanceOfSatisfying(NativeLibraryException.class, e -> {
                    assertThat(e.getMessage()).startsWith("native library unavailable: jnr-ffi could not bind Pid"
                            + " to any of [libvmhandler-absent.so.9, vmhandler-absent] (");
                    assertThat(e.iface()).isEqualTo("Pid");
                    assertThat(e.tried()).containsExactly("libvmhandler-absent.so.9", "vmhandler-absent");
                    assertThat(e.getCause()).isInstanceOf(UnsatisfiedLinkError.class);
                    assertThat(e.getCause().getSuppressed()).hasSize(1);
                });
    }

    @Test
    void remedyIsAppendedAndTheCauseKept() {
        NativeLibraryException e = catchLoad();
        NativeLibraryException withRemedy = e.withRemedy("install libvmhandler9");
        assertThat(withRemedy.getMessage()).isEqualTo(e.getMessage() + "; install libvmhandler9");
        assertThat(withRemedy.getCause()).isSameAs(e.getCause());
        assertThat(withRemedy.tried()).isEqualTo(e.tried());
    }

    @Test
    void aVersionedNameResolvesToTheFileInALibraryDirectory() {
        String where = NativeLibraries.locate("libc.so.6");
        assertThat(Path.of(where)).isAbsolute();
        assertThat(Files.exists(Path.of(where))).isTrue();
        assertThat(NativeLibraries.locate("c")).isEqualTo("c");
        assertThat(NativeLibraries.locate("libvmhandler-absent.so.9")).isEqualTo("libvmhandler-absent.so.9");
    }

    @Test
    void noNamesIsRejectedNamingTheField() {
        assertThatThrownBy(() -> NativeLibraries.load(Pid.class))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("names: at least one library name is required to bind Pid");
    }

    private static NativeLibraryException catchLoad() {
        try {
            NativeLibraries.load(Pid.class, "libvmhandler-absent.so.9");
        } catch (NativeLibraryException e) {
            return e;
        }
        throw new AssertionError("libvmhandler-absent.so.9 loaded");
    }
}
