package io.vmhandler.proc;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.Root;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Pid translation against a real child pid namespace (unshare --pid --fork), as a container has. */
class PidNamespacesIT {
    @RegisterExtension
    final HostCleanup host = new HostCleanup();

    @Test
    void translatesAContainerPidToTheHostPidOnlyWithinTheCallersNamespace() throws Exception {
        Root.require();
        // the "container": a new pid ns whose init (pid 1 inside) runs sleep
        Process p = host.process(new ProcessBuilder("unshare", "--pid", "--fork", "--mount-proc", "sleep", "60"));
        int sleepHostPid = -1;
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (sleepHostPid < 0 && System.nanoTime() < deadline) {
            sleepHostPid = p.descendants().filter(h -> h.info().command().map(c -> c.endsWith("sleep")).orElse(false))
                    .mapToInt(h -> (int) h.pid()).findFirst().orElse(-1);
            Thread.sleep(10);
        }
        assertThat(sleepHostPid).isPositive();
        assertThat(Files.readString(Path.of("/proc/" + sleepHostPid + "/status"))).containsPattern("NSpid:\\s+\\d+\\s+1\\n");

        PidNamespaces ns = new PidNamespaces(Path.of("/proc"));
        // the container's own view: pid 1 is its sleep
        assertThat(ns.toHostPid(sleepHostPid, 1)).contains(sleepHostPid);
        // a number that does not exist in the container
        assertThat(ns.toHostPid(sleepHostPid, 4242)).isEmpty();
        // a host caller naming a host process gets that process; the container's pid 1 is invisible to it
        int self = (int) ProcessHandle.current().pid();
        assertThat(ns.toHostPid(self, self)).contains(self);
        Process hostChild = host.process(new ProcessBuilder("sleep", "60"));
        assertThat(ns.toHostPid(self, (int) hostChild.pid())).contains((int) hostChild.pid());
        // and the container cannot reach the host child by its host number
        assertThat(ns.toHostPid(sleepHostPid, (int) hostChild.pid())).isEmpty();
    }
}
