package io.vmhandler.selinux.semodule;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.selinux.PolicyRoot;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SemodulePolicyInstallerTest {
    @TempDir
    Path tmp;

    @Test
    void alternateRootGetsPathStoreAndNoReload() {
        var inst = new SemodulePolicyInstaller(SemodulePolicyInstaller.HOST_MOUNT_NAMESPACE,
                new PolicyRoot(tmp, "targeted"), tmp.resolve("staging"));
        assertThat(inst.argv(true, "-X", "400", "-r", "virt_launcher")).containsExactly("nsenter", "-t", "1", "-m", "--",
                "semodule", "-p", tmp.toString(), "-s", "targeted", "-n", "-X", "400", "-r", "virt_launcher");
        assertThat(inst.argv(false, "-lfull", "--checksum")).doesNotContain("-n");
    }

    @Test
    void theLiveRootIsReloadedBySemoduleItself() {
        // "/" is this machine's own root, the live one: no -p, no -n, so semodule reloads the kernel
        var inst = new SemodulePolicyInstaller(List.of(), new PolicyRoot(PolicyRoot.hostRoot(), "default"), tmp);
        List<String> argv = inst.argv(true, "-e", "virt_launcher");
        assertThat(argv).doesNotContain("-n");
        assertThat(argv).startsWith("semodule");
    }
}
