package io.vmhandler.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.util.OptionalInt;
import java.util.Set;
import org.junit.jupiter.api.Test;

class AdminAccessTest {
    private static final int ADMIN = 4343;

    private static AdminAccess access(OptionalInt gid, boolean inPod, Set<Integer> groups) {
        return new AdminAccess(gid, caller -> new AdminAccess.Facts(inPod, groups));
    }

    private static LauncherException denied(AdminAccess a, CallerIdentity c) {
        try {
            a.check(c);
        } catch (LauncherException e) {
            assertThat(e.kind()).isEqualTo(LauncherException.Kind.PERMISSION_DENIED);
            return e;
        }
        throw new AssertionError("expected PERMISSION_DENIED for " + c);
    }

    @Test
    void rootOutsidePodsIsAllowedWithOrWithoutAnAdminGroup() {
        assertThatCode(() -> access(OptionalInt.empty(), false, Set.of(0)).check(new CallerIdentity(1, 0, 0)))
                .doesNotThrowAnyException();
        assertThatCode(() -> access(OptionalInt.of(ADMIN), false, Set.of(0)).check(new CallerIdentity(1, 0, 0)))
                .doesNotThrowAnyException();
    }

    @Test
    void anUnprivilegedLauncherIsDenied() {
        LauncherException e = denied(access(OptionalInt.of(ADMIN), false, Set.of(107)), new CallerIdentity(9, 107, 107));
        assertThat(e.getMessage()).isEqualTo("node status is only for root or members of group 4343; the caller is uid 107 gid 107");
        assertThat(denied(access(OptionalInt.empty(), false, Set.of(107)), new CallerIdentity(9, 107, 107)).getMessage())
                .contains("no --admin-group is set");
    }

    @Test
    void theAdminGroupAsPrimaryOrSupplementaryGroupIsAllowed() {
        assertThatCode(() -> access(OptionalInt.of(ADMIN), false, Set.of(ADMIN)).check(new CallerIdentity(9, 5000, ADMIN)))
                .doesNotThrowAnyException();
        assertThatCode(() -> access(OptionalInt.of(ADMIN), false, Set.of(5000, ADMIN)).check(new CallerIdentity(9, 5000, 5000)))
                .doesNotThrowAnyException();
    }

    @Test
    void insideAPodNeitherRootNorTheAdminGroupCounts() {
        // a pod spec picks its own runAsUser and supplementalGroups
        assertThat(denied(access(OptionalInt.of(ADMIN), true, Set.of(0)), new CallerIdentity(9, 0, 0)).getMessage())
                .contains("not available to processes in a Kubernetes pod");
        denied(access(OptionalInt.of(ADMIN), true, Set.of(ADMIN)), new CallerIdentity(9, 107, ADMIN));
    }

    @Test
    void aCallerWhoseFactsCannotBeVerifiedIsDenied() {
        AdminAccess a = new AdminAccess(OptionalInt.of(ADMIN), caller -> {
            throw new IOException("its effective uid is no longer the connecting uid 5000");
        });
        assertThat(denied(a, new CallerIdentity(9, 5000, ADMIN)).getMessage())
                .contains("cannot verify the calling process 9").contains("no longer the connecting uid");
        // root too: a root caller that exited may have left its pid to a process in a pod
        denied(a, new CallerIdentity(9, 0, 0));
    }

    @Test
    void aNegativeAdminGroupIsRejected() {
        assertThatThrownBy(() -> access(OptionalInt.of(-1), false, Set.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("admin group: must be a gid >= 0, got -1");
    }
}
