package io.vmhandler.selinux;

import io.vmhandler.selinux.libsemanage.LibsemanageInstaller;
import io.vmhandler.selinux.semodule.SemodulePolicyInstaller;
import java.nio.file.Path;
import java.util.List;

/**
 * Builds a {@link SelinuxPolicy} for the launcher module on a store, with one of the two installers. One place,
 * because the daemon's start-up and the {@code selinux} command must install through the same mechanism.
 */
public final class SelinuxPolicies {
    /** Where the semodule installer stages the module file: a host path both the daemon and the host's semodule see. */
    public static final Path DEFAULT_STAGING = Path.of("/var/lib/vmhandler/selinux");

    /** The installers: libsemanage in-process (alternate roots too), or the host's semodule through nsenter. */
    public enum Installer { LIBSEMANAGE, SEMODULE }

    private SelinuxPolicies() {}

    /** The live host's policy store with the libsemanage installer: what the daemon installs into at start. */
    public static SelinuxPolicy host() throws java.io.IOException {
        return of(PolicyRoot.configured(PolicyRoot.hostRoot()), Installer.LIBSEMANAGE, 1, DEFAULT_STAGING,
                SelinuxStatus.PROC_FILESYSTEMS);
    }

    /**
     * @param hostPid the pid whose mount namespace semodule runs in (semodule only)
     * @param staging where semodule reads the module file from (semodule only)
     * @param procFilesystems where to learn whether selinuxfs exists (the kernel load after a libsemanage commit)
     */
    public static SelinuxPolicy of(PolicyRoot store, Installer installer, int hostPid, Path staging,
                                   Path procFilesystems) {
        PolicyInstaller.Factory factory;
        Path workDir;
        switch (installer) {
            case LIBSEMANAGE -> {
                KernelPolicyLoader loader = new KernelPolicyLoader(procFilesystems);
                // the kernel load only for the store the policy is built for; a copy (validation) never loads
                factory = r -> new LibsemanageInstaller(r, r.equals(store) ? loader : null);
                workDir = Path.of(System.getProperty("java.io.tmpdir"));
            }
            case SEMODULE -> {
                List<String> prefix = List.of("nsenter", "-t", Integer.toString(hostPid), "-m", "--");
                factory = r -> new SemodulePolicyInstaller(prefix, r, staging);
                workDir = staging;
            }
            default -> throw new IllegalStateException("unknown installer " + installer);
        }
        return new SelinuxPolicy(store, factory.create(store), factory, CilModule.launcher(), workDir, procFilesystems);
    }
}
