package io.vmhandler.selinux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Paths and status from a root. SELinux states this kernel cannot have are shown with a STAND-IN
 * {@code /proc/filesystems} and a stand-in selinuxfs directory under a temporary root.
 */
class PolicyRootAndStatusStandInTest {
    @TempDir
    Path tmp;

    @Test
    void storePathsFollowTheRootAndTheName() {
        PolicyRoot r = new PolicyRoot(tmp, "targeted");
        assertThat(r.storeDir()).isEqualTo(tmp.resolve("var/lib/selinux/targeted"));
        assertThat(r.etcDir()).isEqualTo(tmp.resolve("etc/selinux/targeted"));
        assertThat(r.policyDir()).isEqualTo(tmp.resolve("etc/selinux/targeted/policy"));
        assertThat(r.selinuxfs()).isEqualTo(tmp.resolve("sys/fs/selinux"));
        assertThat(r.exists()).isFalse();
        assertThat(r.isLiveHost()).isFalse();
        assertThat(new PolicyRoot(PolicyRoot.hostRoot(), "default").isLiveHost()).isTrue();
    }

    @Test
    void badStoreNamesNameTheLimit() {
        assertThatThrownBy(() -> new PolicyRoot(tmp, "../x")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("store must match").hasMessageContaining("'../x'");
        assertThatThrownBy(() -> new PolicyRoot(tmp, "")).hasMessageContaining("store must match");
    }

    @Test
    void theStoreNameComesFromTheRootsConfigNotOurs() throws IOException {
        assertThatThrownBy(() -> PolicyRoot.configured(tmp)).isInstanceOf(IOException.class)
                .hasMessageContaining(tmp.resolve("etc/selinux/config").toString()).hasMessageContaining("--store");
        config("# comment\nSELINUX=enforcing\nSELINUXTYPE=targeted\n");
        assertThat(PolicyRoot.configured(tmp).store()).isEqualTo("targeted");
    }

    @Test
    void disabledWhenTheKernelHasNoSelinuxfs() throws IOException {
        config("SELINUX=permissive\nSELINUXTYPE=default\n");
        SelinuxStatus s = SelinuxStatus.read(tmp, filesystems(false));
        assertThat(s.enabled()).isFalse();
        assertThat(s.enforcing()).isNull();
        assertThat(s.policyType()).isEqualTo("default");
        assertThat(s.configuredMode()).isEqualTo("permissive");
        assertThat(s.detail()).contains("no selinuxfs");
    }

    @Test
    void enforcingOrPermissiveFromTheRootsSelinuxfs() throws IOException {
        Path fs = tmp.resolve("sys/fs/selinux");
        Files.createDirectories(fs);
        Files.writeString(fs.resolve("enforce"), "1");
        Files.writeString(fs.resolve("policyvers"), "33\n");
        SelinuxStatus s = SelinuxStatus.read(tmp, filesystems(true));
        assertThat(s.enabled()).isTrue();
        assertThat(s.enforcing()).isTrue();
        assertThat(s.kernelPolicyVersion()).isEqualTo(33);
        Files.writeString(fs.resolve("enforce"), "0");
        assertThat(SelinuxStatus.read(tmp, filesystems(true)).enforcing()).isFalse();
    }

    @Test
    void enabledButInvisibleSelinuxfsIsReportedAsUnknownMode() throws IOException {
        SelinuxStatus s = SelinuxStatus.read(tmp, filesystems(true));
        assertThat(s.enabled()).isTrue();
        assertThat(s.enforcing()).isNull();
        assertThat(s.detail()).contains("not visible");
    }

    @Test
    void thisKernelReportsWhatProcFilesystemsSays() throws IOException {
        boolean registered = Files.readString(Path.of("/proc/filesystems")).contains("selinuxfs");
        assertThat(SelinuxStatus.read(Path.of("/")).enabled()).isEqualTo(registered);
    }

    private void config(String text) throws IOException {
        Files.createDirectories(tmp.resolve("etc/selinux"));
        Files.writeString(tmp.resolve("etc/selinux/config"), text);
    }

    private Path filesystems(boolean selinux) throws IOException {
        Path f = tmp.resolve("filesystems");
        Files.writeString(f, "nodev\tproc\n" + (selinux ? "nodev\tselinuxfs\n" : "") + "\text4\n");
        return f;
    }
}
