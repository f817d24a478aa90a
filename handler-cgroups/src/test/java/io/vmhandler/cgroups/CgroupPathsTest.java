package io.vmhandler.cgroups;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import org.junit.jupiter.api.Test;

class CgroupPathsTest {
    @Test
    void plainPathsPass() throws IOException {
        assertThat(CgroupPaths.requireSafe("/", "t")).isEqualTo("/");
        assertThat(CgroupPaths.requireSafe("/kubepods/burstable/pod1/abc", "t")).isEqualTo("/kubepods/burstable/pod1/abc");
        assertThat(CgroupPaths.requireSafe("/a b/c:d", "t")).isEqualTo("/a b/c:d");
    }

    @Test
    void escapesAndOddComponentsAreRejectedNamingTheOrigin() {
        assertThatThrownBy(() -> CgroupPaths.requireSafe("/../../kubepods/x", "/proc/9/cgroup cpuset"))
                .isInstanceOf(IOException.class)
                .hasMessageStartingWith("/proc/9/cgroup cpuset: cgroup path '/../../kubepods/x' leaves its root with '..'");
        assertThatThrownBy(() -> CgroupPaths.requireSafe("/a/./b", "t")).hasMessageContaining("'.' component");
        assertThatThrownBy(() -> CgroupPaths.requireSafe("/a//b", "t")).hasMessageContaining("empty");
        assertThatThrownBy(() -> CgroupPaths.requireSafe("/a/", "t")).hasMessageContaining("empty");
        assertThatThrownBy(() -> CgroupPaths.requireSafe("a/b", "t")).hasMessageContaining("not absolute");
        assertThatThrownBy(() -> CgroupPaths.requireSafe("", "t")).hasMessageContaining("not absolute");
        assertThatThrownBy(() -> CgroupPaths.requireSafe("/a\u0001b", "t")).hasMessageContaining("control character");
        assertThatThrownBy(() -> CgroupPaths.requireSafe("/" + "x".repeat(256), "t")).hasMessageContaining("limit is 255");
        assertThatThrownBy(() -> CgroupPaths.requireSafe("/x".repeat(2100), "t")).hasMessageContaining("limit is 4096");
    }

    @Test
    void housekeepingSuffixIsStrippedOnce() {
        assertThat(CgroupPaths.stripHousekeeping("/a/b/housekeeping")).isEqualTo("/a/b");
        assertThat(CgroupPaths.stripHousekeeping("/a/b")).isEqualTo("/a/b");
        assertThat(CgroupPaths.stripHousekeeping("/housekeeping")).isEqualTo("/housekeeping");
        assertThat(CgroupPaths.stripHousekeeping("/a/myhousekeeping")).isEqualTo("/a/myhousekeeping");
        assertThat(CgroupPaths.child("/", "x")).isEqualTo("/x");
        assertThat(CgroupPaths.child("/a", "x")).isEqualTo("/a/x");
    }
}
