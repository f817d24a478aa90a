package io.vmhandler.core.metrics;

import java.util.Locale;

/** The states of the launcher SELinux module, exported as one StateSet. */
public enum SelinuxModuleState {
    /** The node has no SELinux kernel or it is disabled: nothing to install. */
    NOT_APPLICABLE,
    /** Not installed (yet, or removed). */
    ABSENT,
    /** Installed and its content hash matches the module we ship. */
    INSTALLED,
    /** Installed with another content hash (an older daemon's module). */
    OUTDATED,
    /** The last install/verify failed. */
    FAILED;

    /** The StateSet renders states with {@code toString()}: keep them lower_snake. */
    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
