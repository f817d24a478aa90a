package io.vmhandler.cgroups;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.proc.ProcFs;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The node's cgroup mode from pid 1's mountinfo, on synthetic proc trees and on this machine. */
class CgroupModeTest {
    @TempDir
    Path proc;

    private CgroupMode mode(String mountinfo) throws Exception {
        Files.createDirectories(proc.resolve("1"));
        Files.writeString(proc.resolve("1/mountinfo"), mountinfo);
        return CgroupMode.detect(new ProcFs(proc), 1);
    }

    @Test
    void cgroupAndCgroup2MountsDecide() throws Exception {
        String root = "20 1 8:1 / / rw - ext4 /dev/sda1 rw\n";
        String v1 = "30 22 0:26 / /sys/fs/cgroup/cpuset rw shared:11 - cgroup cgroup rw,cpuset\n";
        String v2 = "22 1 0:21 / /sys/fs/cgroup/unified rw shared:9 - cgroup2 cgroup2 rw\n";
        assertThat(mode(root)).isEqualTo(CgroupMode.NONE);
        assertThat(mode(root + v1)).isEqualTo(CgroupMode.V1);
        assertThat(mode(root + v2)).isEqualTo(CgroupMode.V2);
        assertThat(mode(root + v1 + v2)).isEqualTo(CgroupMode.HYBRID);
    }

    @Test
    void thisMachineHasSomeCgroupMount() throws Exception {
        assertThat(CgroupMode.detect(ProcFs.host(), 1)).isNotEqualTo(CgroupMode.NONE);
    }
}
