package io.vmhandler.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.testing.Root;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * {@code doctor --json} must report this node's real facts. Each fact is checked against an
 * independent source, so the test holds on any node and fails if doctor invents anything.
 */
class DoctorCommandIT {
    @Test
    void reportsRealNodeFacts() throws Exception {
        Root.require();
        CliRun r = CliRun.of("doctor", "--json");
        assertThat(r.exit()).isZero();
        String json = r.out();

        long capEff = Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("CapEff:"))
                .map(l -> Long.parseUnsignedLong(l.substring(7).trim(), 16)).findFirst().orElseThrow();
        boolean sysResource = (capEff & (1L << 24)) != 0;
        assertThat(json.contains("\"CAP_SYS_RESOURCE\"")).isEqualTo(sysResource);
        assertThat(json).contains("\"memlock\":{\"available\":" + sysResource);
        assertThat(json.contains("\"CAP_NET_ADMIN\"")).isEqualTo((capEff & (1L << 12)) != 0);

        String mounts = Files.readString(Path.of("/proc/1/mountinfo"));
        boolean v1 = mounts.contains(" - cgroup ");
        boolean v2 = mounts.contains(" - cgroup2 ");
        String mode = v1 && v2 ? "hybrid" : v1 ? "v1" : v2 ? "v2" : "none";
        assertThat(json).contains("\"cgroupMode\":\"" + mode + "\"");

        boolean selinux = Files.exists(Path.of("/sys/fs/selinux/enforce"));
        if (!selinux) {
            assertThat(json).contains("\"selinux\":\"disabled\"");
        }
        assertThat(json).contains("\"kernel\":\"" + Files.readString(Path.of("/proc/sys/kernel/osrelease")).trim() + "\"");
        assertThat(json).contains("\"nativeLibrary\":true");
        assertThat(json).contains("\"tunDevice\":" + Files.exists(Path.of("/dev/net/tun")));
    }

    @Test
    void onThisMachineKindItSeesHybridCgroupsNoSelinuxAndNoCapSysResource() throws Exception {
        // The acceptance: these are the facts of the java-maven machine kind (docs/test-host.md §0).
        Root.require();
        String json = CliRun.of("doctor", "--json").out();
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isDirectory(Path.of("/sys/fs/cgroup/unified")),
                "not the hybrid machine kind");
        assertThat(json).contains("\"cgroupMode\":\"hybrid\"").contains("\"selinux\":\"disabled\"")
                .doesNotContain("\"CAP_SYS_RESOURCE\"")
                .contains("CAP_SYS_RESOURCE missing from the effective set");
    }

    @Test
    void textOutputNamesEveryCapability() {
        CliRun r = CliRun.of("doctor");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).contains("cgroups:").contains("selinux:").contains("taps").contains("memlock")
                .contains("pinning");
    }
}
