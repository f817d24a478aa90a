package io.vmhandler.selinux;

import io.vmhandler.selinux.libsemanage.LibsemanageInstaller;
import io.vmhandler.selinux.testing.TestPolicyStore;
import io.vmhandler.selinux.testing.Timings;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the libsemanage (jnr-ffi) tests share: a real policy store in an ALTERNATE ROOT, not an SELinux
 * kernel (this machine has none): Debian's refpolicy plus its container module, neverallow checks on
 * (see {@link TestPolicyStore}). Nothing here can load a policy into a kernel; the store, the compiled
 * binary policy and the tools' view of them are real. Each subclass owns one store copy and runs in its
 * own JVM: libsemanage serves one store per process.
 */
abstract class AlternateStoreCase {
    @TempDir
    Path tmp;

    @BeforeAll
    static void store() throws Exception {
        TestPolicyStore.cachedRoot();
        if (TestPolicyStore.buildSeconds() >= 0) {
            Timings.record("build the cached Debian refpolicy + container store", TestPolicyStore.buildSeconds());
        }
    }

    /** The daemon's policy service on {@code r}: libsemanage installs, kernel load only for the live host. */
    SelinuxPolicy policy(PolicyRoot r, CilModule m) {
        return new SelinuxPolicy(r, new LibsemanageInstaller(r, new KernelPolicyLoader()),
                c -> new LibsemanageInstaller(c, null), m, tmp.resolve("work"), SelinuxStatus.PROC_FILESYSTEMS);
    }
}
