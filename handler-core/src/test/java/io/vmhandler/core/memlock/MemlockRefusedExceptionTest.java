package io.vmhandler.core.memlock;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.core.memlock.MemlockRefusedException.Reason;
import io.vmhandler.nativeio.SyscallException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class MemlockRefusedExceptionTest {
    private static final int HOST_PID = 48213;
    private static final int POD_PID = 7;

    @ParameterizedTest
    @EnumSource(Reason.class)
    void theCallerHearsItsOwnPidTheLimitAndTheRuleButNoHostDetail(Reason reason) {
        SyscallException errno = new SyscallException("prlimit", 1, "pid " + HOST_PID);
        var e = new MemlockRefusedException("setting RLIMIT_MEMLOCK of pid " + HOST_PID + " ... we run as uid 0 ["
                + errno.getMessage() + "]", reason, HOST_PID, "16777216 bytes", errno);
        String m = e.callerMessage(POD_PID);
        assertThat(m).contains("RLIMIT_MEMLOCK 16777216 bytes for pid 7")
                .doesNotContain(Integer.toString(HOST_PID)).doesNotContain("uid 0").doesNotContain("prlimit(").doesNotContain("EPERM");
        assertThat(m).contains(reason == Reason.OTHER ? "seccomp" : "CAP_SYS_RESOURCE");
        // the node's log keeps everything
        assertThat(e.getMessage()).contains(Integer.toString(HOST_PID)).contains("EPERM");
    }
}
