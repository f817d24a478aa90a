package io.vmhandler.selinux;

/**
 * One module in a policy store, as {@code semodule -lfull -m} lists it: the same name may be
 * installed at several priorities, and the highest enabled one is in effect.
 *
 * @param checksum {@code sha256:<hex>} of the module's CIL (for a .cil module, of the file's bytes)
 */
public record InstalledModule(String name, int priority, String lang, String checksum, boolean enabled) {}
