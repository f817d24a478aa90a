package io.vmhandler.grpc;

import java.io.IOException;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.Set;

/**
 * Who may call the admin service: a process outside the Kubernetes pods (the daemon's own pod
 * aside) that is root (uid 0) or a member of the configured admin group (its effective gid or one of
 * its supplementary groups).
 *
 * <p>Why "outside the pods" comes first: a pod's spec chooses its own uid, gid and supplementary
 * groups ({@code runAsUser: 0}, {@code supplementalGroups}), so inside a pod neither uid 0 nor a group
 * says anything about the node's administrator. Without this rule a launcher pod could read every
 * other pod's state. The daemon's own pod is the exception {@link CallerFacts} makes: exec'ing into
 * the daemon's privileged container already requires control of the node.
 *
 * <p>The uid comes from SO_PEERCRED (recorded at connect(2)); supplementary groups are not in
 * SO_PEERCRED, so {@link CallerFacts} reads them from procfs at call time and must refuse (throw) when
 * the pid no longer belongs to a process with the SO_PEERCRED uid (the caller exited and the pid was
 * reused). Stateless apart from its configuration; thread-safe.
 */
public final class AdminAccess {
    /** What the kernel says about the caller beyond SO_PEERCRED. */
    @FunctionalInterface
    public interface CallerFacts {
        /**
         * @throws IOException when the facts cannot be read or the pid no longer belongs to the caller
         */
        Facts facts(CallerIdentity caller) throws IOException;
    }

    /**
     * @param inPod the caller's process is in a Kubernetes pod other than the daemon's (its cgroup says so)
     * @param groups its effective gid and supplementary groups
     */
    public record Facts(boolean inPod, Set<Integer> groups) {
        public Facts {
            groups = Set.copyOf(groups);
        }
    }

    private final OptionalInt adminGid;
    private final CallerFacts facts;

    /** @param adminGid the admin group, or empty: only root outside pods */
    public AdminAccess(OptionalInt adminGid, CallerFacts facts) {
        this.adminGid = Objects.requireNonNull(adminGid, "adminGid");
        this.facts = Objects.requireNonNull(facts, "facts");
        if (adminGid.isPresent() && adminGid.getAsInt() < 0) {
            throw new IllegalArgumentException("admin group: must be a gid >= 0, got " + adminGid.getAsInt());
        }
    }

    public OptionalInt adminGid() {
        return adminGid;
    }

    /** Returns normally when {@code caller} may read the node status, else PERMISSION_DENIED. */
    public void check(CallerIdentity caller) {
        Facts f;
        try {
            f = facts.facts(caller);
        } catch (IOException e) {
            throw LauncherException.permissionDenied("node status: cannot verify the calling process "
                    + caller.pid() + " (" + e.getMessage() + ")");
        }
        if (f.inPod()) {
            throw LauncherException.permissionDenied("node status is not available to processes in a Kubernetes pod"
                    + " other than the vmhandler daemon's; the calling process " + caller.pid() + " is in one");
        }
        if (caller.uid() == 0) {
            return;
        }
        if (adminGid.isPresent() && (caller.gid() == adminGid.getAsInt() || f.groups().contains(adminGid.getAsInt()))) {
            return;
        }
        throw LauncherException.permissionDenied("node status is only for root"
                + (adminGid.isPresent() ? " or members of group " + adminGid.getAsInt() : " (no --admin-group is set)")
                + "; the caller is uid " + Integer.toUnsignedString(caller.uid()) + " gid "
                + Integer.toUnsignedString(caller.gid()));
    }
}
