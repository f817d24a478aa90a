package io.vmhandler.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.cli.MemlockCommandTest.Run;
import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.Root;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** {@code vmhandler memlock apply} on a live child, within this machine's 8 MiB cap. */
class MemlockCommandIT {
    static final String EX = MemlockCommandTest.EX;

    @RegisterExtension
    final HostCleanup host = new HostCleanup();
    private int pid;

    @BeforeEach
    void child() {
        Root.require();
        pid = (int) host.process(new ProcessBuilder("sleep", "60")).pid();
    }

    private String limits() throws Exception {
        return Files.readString(Path.of("/proc", Integer.toString(pid), "limits"));
    }

    @Test
    void appliesBytes() throws Exception {
        Run r = MemlockCommandTest.run("memlock", "apply", "--pid", Integer.toString(pid), "--bytes", "4194304");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).startsWith("pid " + pid + ": RLIMIT_MEMLOCK soft=hard=4194304 (was soft=");
        assertThat(limits()).containsPattern("Max locked memory\\s+4194304\\s+4194304\\s+bytes");
    }

    @Test
    void appliesWhatTheDomainXmlGives_hardLimit4096KiB() throws Exception {
        Run r = MemlockCommandTest.run("memlock", "apply", "--pid", Integer.toString(pid), "--domain-xml",
                EX + "domain-hardlimit.xml", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("\"requested\":4194304", "\"after\":{\"soft\":4194304,\"hard\":4194304}",
                "\"branch\":\"hard_limit\"");
        assertThat(limits()).containsPattern("Max locked memory\\s+4194304\\s+4194304\\s+bytes");
    }

    @Test
    void aVmiWithoutDevicesLeavesTheLimitAsItIs() throws Exception {
        String before = limits();
        Run r = MemlockCommandTest.run("memlock", "apply", "--pid", Integer.toString(pid), "--vmi", EX + "vmi-plain.yaml");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("left as is (libvirt sets no limit)");
        assertThat(limits()).isEqualTo(before);
    }

    @Test
    void aRefusedRaiseExits1WithTheReason() throws Exception {
        boolean cap = (Long.parseUnsignedLong(Files.readAllLines(Path.of("/proc/thread-self/status")).stream()
                .filter(l -> l.startsWith("CapEff:")).findFirst().orElseThrow().substring(7).trim(), 16) >>> 24 & 1) == 1;
        // the SR-IOV example needs 5368709120 bytes, far above 8 MiB
        Run r = MemlockCommandTest.run("memlock", "apply", "--pid", Integer.toString(pid), "--vmi", EX + "vmi-sriov.yaml");
        if (cap) {
            assertThat(r.code()).isZero();
            return;
        }
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("vmhandler memlock: raising RLIMIT_MEMLOCK of pid " + pid)
                .contains("to 5368709120 bytes was refused: no CAP_SYS_RESOURCE in this process");
        assertThat(limits()).doesNotContain("5368709120");
    }
}
