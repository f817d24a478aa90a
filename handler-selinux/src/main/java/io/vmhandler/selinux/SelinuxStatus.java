package io.vmhandler.selinux;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Whether SELinux is on, as the host sees it.
 *
 * <p>{@code enabled} comes from the kernel: selinuxfs is registered in {@code /proc/filesystems}
 * only when SELinux initialised at boot (disabled at boot, or at runtime on old kernels, unregisters
 * it). That file is the same in every mount namespace. The mode comes from the host's selinuxfs
 * under the root ({@code /proc/1/root/sys/fs/selinux} from a pod: runtimes give containers a fresh
 * sysfs without it; docs/selinux.md §8.4), the policy type from the root's {@code etc/selinux/config},
 * never from this container's own configuration.
 *
 * @param enforcing null when enabled but the host's selinuxfs is not visible from here
 * @param policyType {@code SELINUXTYPE}, the store name (e.g. targeted, default), or null
 * @param configuredMode {@code SELINUX=} from the config (enforcing, permissive, disabled), or null
 * @param kernelPolicyVersion the newest policy format the kernel loads ({@code policyvers}), or null
 */
public record SelinuxStatus(boolean enabled, Boolean enforcing, String policyType, String configuredMode,
        Integer kernelPolicyVersion, Path selinuxfs, String detail) {

    public static final Path PROC_FILESYSTEMS = Path.of("/proc/filesystems");

    /** Status of the host whose root is {@code root}. Blocking: reads a few small files. */
    public static SelinuxStatus read(Path root) throws IOException {
        return read(root, PROC_FILESYSTEMS);
    }

    /**
     * @param procFilesystems the kernel's filesystem list; a test on a kernel without SELinux passes a
     *     file standing in for it
     */
    public static SelinuxStatus read(Path root, Path procFilesystems) throws IOException {
        Path fs = root.resolve("sys/fs/selinux");
        String type = PolicyRoot.configValue(root, "SELINUXTYPE");
        String mode = PolicyRoot.configValue(root, "SELINUX");
        boolean registered = Files.readAllLines(procFilesystems).stream()
                .anyMatch(l -> l.trim().endsWith("selinuxfs"));
        if (!registered) {
            return new SelinuxStatus(false, null, type, mode, null, fs,
                    "the kernel has no selinuxfs (" + procFilesystems + "): SELinux is disabled or not built in");
        }
        Path enforce = fs.resolve("enforce");
        if (!Files.isReadable(enforce)) {
            return new SelinuxStatus(true, null, type, mode, null, fs,
                    "SELinux is on, but " + enforce + " is not visible from here (needs hostPID and root)");
        }
        boolean enforcing = Files.readString(enforce).trim().equals("1");
        Integer vers = null;
        Path pv = fs.resolve("policyvers");
        if (Files.isReadable(pv)) {
            vers = Integer.valueOf(Files.readString(pv).trim());
        }
        return new SelinuxStatus(true, enforcing, type, mode, vers, fs,
                "SELinux is " + (enforcing ? "enforcing" : "permissive") + " (" + enforce + ")");
    }
}
