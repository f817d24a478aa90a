package io.vmhandler.cgroups;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vmhandler.nativeio.SyscallException;
import java.nio.file.Files;
import java.nio.file.Path;
import jnr.constants.platform.Errno;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The openat2 layer on a plain temp directory: it needs no root and no cgroupfs. */
class CgroupTreeTest {
    @TempDir
    Path root;

    @Test
    void readsWritesAndMakesDirectoriesBelowTheHierarchy() throws Exception {
        Files.createDirectories(root.resolve("cpuset/a"));
        Files.writeString(root.resolve("cpuset/a/cpuset.cpus"), "0-1\n");
        CgroupTree t = new CgroupTree(root, "cpuset");
        assertThat(t.read("/a", "cpuset.cpus")).isEqualTo("0-1\n");
        t.write("/a", "cpuset.cpus", "1");
        assertThat(Files.readString(root.resolve("cpuset/a/cpuset.cpus"))).startsWith("1");
        assertThat(t.mkdir("/a/b")).isTrue();
        assertThat(t.mkdir("/a/b")).isFalse();
        assertThat(t.exists("/a/b", "")).isTrue();
        assertThat(t.exists("/a/c", "")).isFalse();
        assertThat(t.rmdir("/a/b")).isTrue();
        assertThat(t.rmdir("/a/b")).isFalse();
        assertThat(t.describe("/a")).isEqualTo(root + "/cpuset/a");
        assertThat(t.describe("/")).isEqualTo(root + "/cpuset");
    }

    @Test
    void aSymlinkAnywhereInThePathIsRefusedWithEloop() throws Exception {
        Path outside = Files.createDirectories(root.resolve("outside"));
        Files.writeString(outside.resolve("tasks"), "");
        Files.createDirectories(root.resolve("cpuset"));
        Files.createSymbolicLink(root.resolve("cpuset/kubepods"), outside);
        CgroupTree t = new CgroupTree(root, "cpuset");
        assertThatThrownBy(() -> t.write("/kubepods", "tasks", "1"))
                .isInstanceOfSatisfying(SyscallException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ELOOP));
        assertThatThrownBy(() -> t.mkdir("/kubepods/x"))
                .isInstanceOfSatisfying(SyscallException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ELOOP));
        assertThat(Files.readString(outside.resolve("tasks"))).isEmpty();
    }

    @Test
    void dotDotCannotLeaveTheHierarchyEvenPastTheLexicalCheck() throws Exception {
        Files.createDirectories(root.resolve("cpuset/a"));
        Files.writeString(root.resolve("secret"), "s");
        CgroupTree t = new CgroupTree(root, "cpuset");
        assertThatThrownBy(() -> t.read("/a/../..", "secret"))
                .isInstanceOfSatisfying(SyscallException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EXDEV));
    }

    @Test
    void aSymlinkedHierarchyDirectoryIsRefused() throws Exception {
        Files.createDirectories(root.resolve("real"));
        Files.createSymbolicLink(root.resolve("cpuset"), root.resolve("real"));
        CgroupTree t = new CgroupTree(root, "cpuset");
        assertThat(t.available()).isFalse();
        assertThatThrownBy(() -> new CgroupTree(root, "../x")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void writeErrorsNameTheFileAndTheValue() throws Exception {
        Files.createDirectories(root.resolve("cpuset/a"));
        CgroupTree t = new CgroupTree(root, "cpuset");
        assertThatThrownBy(() -> t.write("/a", "tasks", "42"))
                .hasMessageContaining("openat2(").hasMessageContaining("cpuset/a/tasks").hasMessageContaining("ENOENT");
    }
}
