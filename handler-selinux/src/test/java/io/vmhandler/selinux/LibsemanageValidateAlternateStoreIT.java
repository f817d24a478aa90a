package io.vmhandler.selinux;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.selinux.sepol.BinaryPolicy;
import io.vmhandler.selinux.testing.PolicyTools;
import io.vmhandler.selinux.testing.TestPolicyStore;
import io.vmhandler.selinux.testing.Timings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * On a real policy store in an alternate root (see {@link AlternateStoreCase}). Validation compiles
 * against a throwaway copy.
 */
@DisplayName("libsemanage validate and libsepol access checks on an alternate policy store (no SELinux kernel)")
class LibsemanageValidateAlternateStoreIT extends AlternateStoreCase {
    @Test
    @DisplayName("validate compiles against a copy with neverallow checks and leaves the store untouched (alternate store)")
    void validate() throws Exception {
        PolicyRoot r = TestPolicyStore.copy(tmp.resolve("root"));
        String before = PolicyTools.fingerprint(r);
        ValidationResult v = policy(r, CilModule.launcher()).validate();
        Timings.record("libsemanage validate (copy + compile + rule checks)", v.took().toNanos() / 1e9);
        assertThat(v.error()).isNull();
        assertThat(v.checks()).hasSize(3).allMatch(RuleCheck::granted);
        assertThat(v.ok()).isTrue();
        assertThat(PolicyTools.fingerprint(r)).isEqualTo(before);
        assertThat(PolicyTools.semoduleList(r, "virt_launcher")).isEmpty();
        try (var s = Files.list(tmp.resolve("work"))) {
            assertThat(s.toList()).as("the validation copy is deleted").isEmpty();
        }
    }

    @Test
    @DisplayName("libsepol's access check agrees with sesearch on the store's container_t (alternate store)")
    void accessCheckAgreesWithSesearch() throws Exception {
        Path policy = PolicyTools.policyFile(new PolicyRoot(TestPolicyStore.cachedRoot(), TestPolicyStore.STORE));
        List<RuleCheck> checks = BinaryPolicy.check(policy, List.of(
                new AccessRule("container_t", "self", "tun_socket", List.of("create", "read", "write", "attach_queue")),
                new AccessRule("container_t", "container_file_t", "file", List.of("entrypoint")),
                new AccessRule("no_such_t", "self", "file", List.of("read")),
                new AccessRule("container_t", "self", "no_such_class", List.of("read")),
                new AccessRule("container_t", "self", "tun_socket", List.of("no_such_perm"))));
        assertThat(checks.get(0).missing()).containsExactly("attach_queue");
        assertThat(PolicyTools.sesearchAllows(policy, "container_t", "container_t", "tun_socket", "create", "read", "write")).isTrue();
        assertThat(PolicyTools.sesearchAllows(policy, "container_t", "container_t", "tun_socket", "attach_queue")).isFalse();
        assertThat(checks.get(1).granted()).isTrue();
        assertThat(checks.get(2).problem()).contains("no_such_t");
        assertThat(checks.get(3).problem()).contains("no_such_class");
        assertThat(checks.get(4).problem()).contains("no_such_perm");
    }
}
