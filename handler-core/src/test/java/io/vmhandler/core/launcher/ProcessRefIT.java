package io.vmhandler.core.launcher;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vmhandler.core.proc.ProcessGoneException;
import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.Root;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** pidfd-based pinning of a real child process against exit and pid reuse. */
class ProcessRefIT {
    @RegisterExtension
    final HostCleanup host = new HostCleanup();

    @Test
    void aLiveProcessVerifiesAndAnExitedOneIsGoneEvenIfItsPidIsReused() throws Exception {
        Root.require();
        Process p = host.process(new ProcessBuilder("sleep", "60"));
        try (ProcessRef ref = ProcessRef.open(Path.of("/proc"), (int) p.pid())) {
            ref.verifyUnchanged();
            assertThat(ref.info().comm()).isEqualTo("sleep");
            p.destroyForcibly().waitFor();
            // the pidfd still refers to the dead process: whatever takes the pid later, this says gone
            assertThatThrownBy(ref::requireAlive).isInstanceOf(ProcessGoneException.class);
            assertThatThrownBy(ref::verifyUnchanged).isInstanceOf(ProcessGoneException.class);
        }
    }
}
