package io.vmhandler.selinux;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.selinux.sepol.BinaryPolicy;
import io.vmhandler.selinux.testing.PolicyTools;
import io.vmhandler.selinux.testing.TestPolicyStore;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kernel loading against a STAND-IN selinuxfs (a directory with {@code enforce}, {@code policyvers}
 * and a plain {@code load} file) and a stand-in {@code /proc/filesystems}: this kernel has no
 * SELinux, so what the kernel would receive is captured in the {@code load} file and read back with
 * seinfo. The policy is the real one built in the alternate-root store.
 */
@DisplayName("kernel policy loader with a stand-in selinuxfs (no SELinux kernel)")
class KernelPolicyLoaderStandInSelinuxfsIT {
    @TempDir
    Path tmp;

    private Path fakeHost(String selinuxType, int policyvers) throws Exception {
        Path root = tmp.resolve("host");
        TestPolicyStore.copy(root);
        Path fs = root.resolve("sys/fs/selinux");
        Files.createDirectories(fs);
        Files.writeString(fs.resolve("enforce"), "1");
        Files.writeString(fs.resolve("policyvers"), Integer.toString(policyvers));
        Files.write(fs.resolve("load"), new byte[0]);
        Files.writeString(root.resolve("etc/selinux/config"), "SELINUX=enforcing\nSELINUXTYPE=" + selinuxType + "\n");
        return root;
    }

    private Path procFilesystems(boolean selinux) throws Exception {
        Path f = tmp.resolve("filesystems");
        Files.writeString(f, "nodev\tsysfs\nnodev\ttmpfs\n" + (selinux ? "nodev\tselinuxfs\n" : "") + "\text4\n");
        return f;
    }

    @Test
    @DisplayName("the active store's build is written to selinuxfs/load unchanged (stand-in selinuxfs)")
    void loadsTheActiveStore() throws Exception {
        Path root = fakeHost("default", 33);
        PolicyRoot r = new PolicyRoot(root, "default");
        KernelPolicyLoader.Result res = new KernelPolicyLoader(procFilesystems(true)).loadIfActive(r);
        assertThat(res.loaded()).isTrue();
        byte[] loaded = Files.readAllBytes(root.resolve("sys/fs/selinux/load"));
        assertThat(loaded).isEqualTo(Files.readAllBytes(PolicyTools.policyFile(r)));
    }

    @Test
    @DisplayName("an older kernel gets the policy rewritten in its format version (stand-in selinuxfs)")
    void downgradesForAnOlderKernel() throws Exception {
        Path root = fakeHost("default", 31);
        PolicyRoot r = new PolicyRoot(root, "default");
        assertThat(BinaryPolicy.version(Files.readAllBytes(PolicyTools.policyFile(r)))).isEqualTo(33);
        assertThat(new KernelPolicyLoader(procFilesystems(true)).loadIfActive(r).loaded()).isTrue();
        Path load = root.resolve("sys/fs/selinux/load");
        assertThat(BinaryPolicy.version(Files.readAllBytes(load))).isEqualTo(31);
        // an independent reader accepts it and still finds the policy's types
        assertThat(PolicyTools.seinfoType(load, "container_t")).contains("container_t");
    }

    @Test
    @DisplayName("nothing is loaded for another store, without SELinux, or for a root that is not the host's")
    void refusesWhatIsNotTheLiveActivePolicy() throws Exception {
        Path root = fakeHost("targeted", 33);
        PolicyRoot r = new PolicyRoot(root, "default");
        KernelPolicyLoader.Result other = new KernelPolicyLoader(procFilesystems(true)).loadIfActive(r);
        assertThat(other.loaded()).isFalse();
        assertThat(other.reason()).contains("not the host's active policy (targeted)");
        KernelPolicyLoader.Result off = new KernelPolicyLoader(procFilesystems(false)).loadIfActive(r);
        assertThat(off.loaded()).isFalse();
        assertThat(off.reason()).contains("no selinuxfs");
        KernelPolicyLoader.Result notLive = new KernelPolicyLoader(procFilesystems(true)).loadIfLive(r);
        assertThat(notLive.loaded()).isFalse();
        assertThat(notLive.reason()).contains("is not the live host's root");
        assertThat(Files.size(root.resolve("sys/fs/selinux/load"))).isZero();
    }
}
