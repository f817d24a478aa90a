package io.vmhandler.selinux;

import java.time.Duration;
import java.util.List;

/**
 * What {@link SelinuxPolicy#install()} did.
 *
 * @param launcherType the type launcher pods should request: the module's domain, or
 *     {@code container_t} when the host policy already grants the launcher rules
 * @param module the module as installed now, or null for {@link Outcome#NOT_NEEDED}
 * @param checks the host-policy answers behind {@link Outcome#NOT_NEEDED} (empty if not asked)
 * @param kernel what happened to the running kernel's policy, in words
 */
public record InstallResult(Outcome outcome, String launcherType, InstalledModule module, List<RuleCheck> checks,
        String kernel, Duration took) {

    public enum Outcome {
        /** The module was installed or replaced (new content); the store was committed. */
        INSTALLED,
        /** The same content was installed but disabled; it was enabled. */
        ENABLED,
        /** The same content is installed and enabled: nothing was changed. */
        UNCHANGED,
        /** The host policy already grants the rules to container_t: nothing was installed. */
        NOT_NEEDED
    }

    public InstallResult {
        checks = List.copyOf(checks);
    }
}
