package io.vmhandler.core.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.proc.ProcessGoneException;
import io.vmhandler.nativeio.SyscallException;
import java.io.IOException;
import jnr.constants.platform.Errno;
import org.junit.jupiter.api.Test;

class ErrorClassTest {
    @Test
    void aCallerThatExitedIsItsOwnResultNotAGenericIoError() {
        assertThat(ErrorClass.of(new ProcessGoneException(42))).isEqualTo("process_gone");
        assertThat(ErrorClass.of(new IOException("disk"))).isEqualTo("io_error");
    }

    @Test
    void aSyscallErrorAnywhereInTheChainWinsWithItsErrnoName() {
        IOException wrapped = new IOException("outer", new SyscallException("setns", Errno.ESRCH.intValue(), "pidfd 7"));
        assertThat(ErrorClass.of(wrapped)).isEqualTo("ESRCH");
    }
}
