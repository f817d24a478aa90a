package io.vmhandler.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class RunCommandAdminGroupTest {
    private static Args args(String... argv) {
        return Args.parse(List.of(argv), Set.of("node", "vmi-dir", "admin-group"), Set.of());
    }

    @Test
    void adminGroupReachesTheDaemonConfigAndIsUnsetByDefault() {
        assertThat(RunCommand.config(args("--node", "n1", "--vmi-dir", "/tmp/v", "--admin-group", "4343")).adminGroup())
                .isEqualTo(4343);
        assertThat(RunCommand.config(args("--node", "n1", "--vmi-dir", "/tmp/v")).adminGroup()).isNull();
    }

    @Test
    void aNegativeOrNonNumericAdminGroupIsAUsageError() {
        assertThatThrownBy(() -> RunCommand.config(args("--node", "n1", "--admin-group", "-1")))
                .isInstanceOf(UsageException.class).hasMessage("--admin-group must be in 0..2147483647, got -1");
        assertThatThrownBy(() -> RunCommand.config(args("--node", "n1", "--admin-group", "wheel")))
                .isInstanceOf(UsageException.class)
                .hasMessage("--admin-group must be an integer in 0..2147483647, got 'wheel'");
    }
}
