package io.vmhandler.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code vmhandler memlock} without apply: no root, no native calls. */
class MemlockCommandTest {
    static final String EX = "../deploy/examples/memlock/";

    record Run(int code, String out, String err) {}

    static Run run(String... argv) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.cli().run(argv, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void printsExactlyOneLineWithTheBytes() {
        // 1 x 4194304 + 1048576 = 5242880 KiB
        assertThat(run("memlock", "--domain-xml", EX + "domain-sriov.xml")).isEqualTo(new Run(0, "5368709120\n", ""));
        assertThat(run("memlock", "--vmi", EX + "vmi-sriov.yaml")).isEqualTo(new Run(0, "5368709120\n", ""));
    }

    @Test
    void printsZeroWithoutDevicesAndUnlimitedForLockedMemory(@TempDir Path dir) throws Exception {
        assertThat(run("memlock", "--vmi", EX + "vmi-plain.yaml").out()).isEqualTo("0\n");
        Path locked = Files.writeString(dir.resolve("locked.xml"), "<domain type='kvm'><memory unit='GiB'>4</memory>"
                + "<memoryBacking><locked/></memoryBacking></domain>");
        assertThat(run("memlock", "--domain-xml", locked.toString()).out()).isEqualTo("unlimited\n");
    }

    @Test
    void libvirtVersionSelectsTheRules() {
        // vIOMMU: >= 8.7 2 x 16777216 + 1048576 KiB; 8.6: 16777216 + 1048576 KiB
        assertThat(run("memlock", "--domain-xml", EX + "domain-grace.xml").out()).isEqualTo("35433480192\n");
        assertThat(run("memlock", "--domain-xml", EX + "domain-grace.xml", "--libvirt-version", "8.6.0").out())
                .isEqualTo("18253611008\n");
        assertThat(run("memlock", "--vmi", EX + "vmi-grace.yaml", "--viommu-resources", "nvidia.com/GH100_H100").out())
                .isEqualTo("35433480192\n");
        // without the Grace resource named, KubeVirt adds no vIOMMU: 16777216 + 1048576 KiB
        assertThat(run("memlock", "--vmi", EX + "vmi-grace.yaml").out()).isEqualTo("18253611008\n");
    }

    @Test
    void jsonCarriesBranchFactorTotalCountsAndTerms() {
        Run r = run("memlock", "--vmi", EX + "vmi-hotplug.yaml", "--json", "--libvirt-version", "9.0.0");
        assertThat(r.code()).isZero();
        assertThat(r.out()).hasLineCount(1).startsWith("{\"bytes\":9663676416,\"unlimited\":false,\"branch\":\"devices\","
                + "\"factor\":1,\"totalMemoryKiB\":8388608,").contains("\"vfioHostdevs\":1", "\"libvirtVersion\":\"9.0.0\"",
                "\"rules\":\"8.7-9.2\"", "\"terms\":[", "virtio-mem device");
    }

    @Test
    void usageErrorsExit2NamingTheFlag() {
        Run both = run("memlock", "--vmi", "a", "--domain-xml", "b");
        assertThat(both.code()).isEqualTo(2);
        assertThat(both.err()).contains("--domain-xml and --vmi cannot be combined");
        assertThat(run("memlock").err()).contains("one of --domain-xml, --vmi is required");
        Run version = run("memlock", "--vmi", EX + "vmi-sriov.yaml", "--libvirt-version", "ten");
        assertThat(version.code()).isEqualTo(2);
        assertThat(version.err()).contains("--libvirt-version must be a libvirt version like 10.0.0");
        assertThat(run("memlock", "--domain-xml", EX + "domain-sriov.xml", "--usb-resources", "x").err())
                .contains("apply to --vmi only");
        assertThat(run("memlock", "frobnicate").err()).contains("unexpected argument 'frobnicate'");
        assertThat(run("memlock", "apply", "--bytes", "1").err()).contains("--pid is required");
        assertThat(run("memlock", "apply", "--pid", "0", "--bytes", "1").err()).contains("--pid must be in 1..");
        assertThat(run("memlock", "apply", "--pid", "1", "--bytes", "-5").err()).contains("--bytes must be in 0..");
    }

    @Test
    void badInputExitsNonZeroNamingTheField(@TempDir Path dir) throws Exception {
        Path xxe = Files.writeString(dir.resolve("xxe.xml"), "<!DOCTYPE d [<!ENTITY x SYSTEM 'file:///etc/shadow'>]>"
                + "<domain type='kvm'><name>&x;</name></domain>");
        Run r = run("memlock", "--domain-xml", xxe.toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.out()).isEmpty();
        assertThat(r.err()).contains("a DOCTYPE is not allowed");
        Path unit = Files.writeString(dir.resolve("vmi.yaml"), "kind: VirtualMachineInstance\nmetadata: {name: a}\n"
                + "spec: {domain: {memory: {guest: 4GB}}}\n");
        assertThat(run("memlock", "--vmi", unit.toString()).err())
                .contains("spec.domain.memory.guest has an unknown unit 'GB'");
        Path yaml = Files.writeString(dir.resolve("bad.yaml"), "spec: [unclosed\n");
        assertThat(run("memlock", "--vmi", yaml.toString()).err()).contains("not valid YAML/JSON");
        Run missing = run("memlock", "--vmi", dir.resolve("nope.yaml").toString());
        assertThat(missing.code()).isEqualTo(2);
        assertThat(missing.err()).contains("--vmi " + dir.resolve("nope.yaml") + ": no such readable file");
    }

    @Test
    void helpListsBothForms() {
        Run r = run("memlock", "--help");
        assertThat(r.out()).contains("vmhandler memlock (--domain-xml FILE | --vmi FILE) [--libvirt-version X.Y.Z] [--json]",
                "vmhandler memlock apply --pid PID (--domain-xml FILE | --vmi FILE | --bytes N)");
        assertThat(run("--help").out()).contains("memlock");
    }
}
