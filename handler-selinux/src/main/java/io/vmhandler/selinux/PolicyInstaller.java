package io.vmhandler.selinux;

import java.util.List;

/**
 * Changes one policy store (a {@link PolicyRoot}). Each mutating call is one libsemanage
 * transaction: it commits completely or leaves the store as it was. Implementations: the
 * in-process {@code LibsemanageInstaller} and {@code SemodulePolicyInstaller}, which runs the
 * host's own {@code semodule} in the host mount namespace.
 *
 * <p>Threading: calls block for the length of a policy rebuild (5-30 s when committing, well under
 * a second for {@link #list}); libsemanage serialises concurrent writers on the store's lock files,
 * and the in-process installer also serialises callers within this JVM.
 */
public interface PolicyInstaller {
    /** Every installed module called {@code name}, at any priority, with its checksum. */
    List<InstalledModule> list(String name) throws PolicyException;

    /**
     * Installs (or replaces) the module at {@code priority}, and enables its name in the same
     * transaction when {@code enable} is set (a disabled module stays disabled when reinstalled).
     */
    Committed install(CilModule module, int priority, boolean enable) throws PolicyException;

    /** Enables a module that is installed but disabled. */
    Committed enable(String name) throws PolicyException;

    /** Removes the module at {@code priority}; {@code changed} is false when there was none. */
    Committed remove(String name, int priority) throws PolicyException;

    /** The words a log line or the CLI uses for this mechanism, e.g. {@code libsemanage (in-process)}. */
    String describe();

    /** Builds an installer for another store, e.g. a temporary copy to validate against. */
    interface Factory {
        PolicyInstaller create(PolicyRoot root);
    }
}
