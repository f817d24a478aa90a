package io.vmhandler.selinux;

import java.time.Duration;
import java.util.List;

/**
 * The result of compiling a module against a copy of a store with neverallow checking on.
 *
 * @param error the first failure (the library's words, e.g. the CIL line that did not resolve), or
 *     null when the module built
 * @param checks the launcher rules asked of the built policy (empty when the build failed)
 */
public record ValidationResult(String module, String checksum, String error, List<RuleCheck> checks, Duration took) {
    public ValidationResult {
        checks = List.copyOf(checks);
    }

    public boolean ok() {
        return error == null && checks.stream().allMatch(RuleCheck::granted);
    }
}
