package io.vmhandler.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.testing.Cmd;
import io.vmhandler.testing.Root;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bin/ensure-packages}, the one package list behind {@code bin/vmhandler demo} and
 * {@code bin/test}: present packages are left alone, missing ones are installed with apt-get as root,
 * and without root or apt-get it names each missing package and its file and exits 1. apt-get and
 * the Maven wrapper are stand-ins that log their argv, so nothing is installed or built; a package
 * is made missing with {@code VMHANDLER_PACKAGE_LIST}, except in the first test, which runs the real lists.
 */
class DemoPackagesIT {
    private static final Path REPO = Path.of("..").toAbsolutePath().normalize();
    private static final String SCRIPT = REPO.resolve("bin/ensure-packages").toString();
    private static final String[] NOBODY = {"setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"};
    private static final String ABSENT_PKG = "vmh-absent-pkg";
    private static final String UPDATE = "apt-get -o DPkg::Lock::Timeout=300 update -qq";
    private static final String INSTALL = "apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends " + ABSENT_PKG;

    @TempDir
    Path tmp;
    /** Holds the apt-get stand-in. */
    private Path fakeBin;
    /** One line per apt-get or mvnw stand-in call, in order; writable by uid 65534 so a wrong call shows. */
    private Path calls;
    /** The absent package's file: not there until the apt-get stand-in is told to make it. */
    private Path absentFile;
    /** A list with one present package (iproute2) and one absent one, in both sets. */
    private Path list;

    @BeforeEach
    void standIns() throws IOException {
        Root.require();
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
        fakeBin = Files.createDirectory(tmp.resolve("fake-bin"));
        executable(fakeBin.resolve("apt-get"), """
                #!/bin/sh
                echo "apt-get $*" >> "$VMH_CALLS"
                case " $* " in *" install "*) [ -z "${VMH_PROVIDE:-}" ] || : > "$VMH_PROVIDE" ;; esac
                """);
        calls = Files.createFile(tmp.resolve("calls"));
        Files.setPosixFilePermissions(calls, PosixFilePermissions.fromString("rw-rw-rw-"));
        absentFile = tmp.resolve("absent-file");
        list = Files.writeString(tmp.resolve("packages"), """
                # package  file  sets
                iproute2 /usr/sbin/ip demo test
                %s %s demo test
                """.formatted(ABSENT_PKG, absentFile));
    }

    @Test
    void theRealListsAreSatisfiedHereSoNothingIsInstalled() throws IOException {
        List<String> demo = Cmd.run(SCRIPT, "--list", "demo").ok().out().lines().toList();
        List<String> test = Cmd.run(SCRIPT, "--list", "test").ok().out().lines().toList();
        assertThat(demo).contains("qemu-system-x86 /usr/bin/qemu-system-x86_64", "iproute2 /usr/sbin/ip");
        assertThat(test).as("bin/test runs the demo too").containsAll(demo).hasSizeGreaterThan(demo.size());
        for (String set : List.of("demo", "test")) {
            Cmd.Result r = Cmd.run(env(false, SCRIPT, set));
            assertThat(r.exit()).as(r.err()).isZero();
            assertThat(r.out() + r.err()).isEmpty();
        }
        Cmd.Result nobody = Cmd.run(env(true, SCRIPT, "demo"));
        assertThat(nobody.exit()).as("nothing missing needs no root: " + nobody.err()).isZero();
        assertThat(callLog()).isEmpty();
    }

    @Test
    void missingWithoutRootNamesThePackageAndItsFileAndInstallsNothing() throws IOException {
        Cmd.Result r = Cmd.run(env(true, "VMHANDLER_PACKAGE_LIST=" + list, SCRIPT, "demo"));
        assertThat(r.exit()).as(r.err()).isEqualTo(1);
        assertThat(r.err()).contains("bin/ensure-packages demo: missing, and not installed: not root (uid 65534)\n")
                .contains("  " + ABSENT_PKG + " (provides " + absentFile + ")\n")
                .contains("apt-get install --no-install-recommends " + ABSENT_PKG + "\n")
                .doesNotContain("iproute2");
        assertThat(callLog()).as("apt-get is on PATH but must not run").isEmpty();
        assertThat(absentFile).doesNotExist();
    }

    @Test
    void missingWithoutAptGetNamesThePackageAndItsFile() throws IOException {
        Path emptyDir = Files.createDirectory(tmp.resolve("no-apt"));
        Cmd.Result r = Cmd.run("env", "PATH=" + emptyDir, "VMHANDLER_PACKAGE_LIST=" + list, "/usr/bin/bash", SCRIPT, "test");
        assertThat(r.exit()).as(r.err()).isEqualTo(1);
        assertThat(r.err()).contains("bin/ensure-packages test: missing, and not installed: apt-get is not on PATH\n")
                .contains("  " + ABSENT_PKG + " (provides " + absentFile + ")\n")
                .doesNotContain("not root");
    }

    @Test
    void missingAsRootIsInstalledWithAptGetSayingWhatThenLeftAlone() throws IOException {
        Cmd.Result r = Cmd.run(env(false, "VMHANDLER_PACKAGE_LIST=" + list, "VMH_PROVIDE=" + absentFile, SCRIPT, "demo"));
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.err()).isEqualTo("bin/ensure-packages demo: installing with apt-get: " + ABSENT_PKG
                + " (provides " + absentFile + ")\n");
        List<String> installed = List.of(UPDATE, INSTALL);
        assertThat(callLog()).isEqualTo(installed);

        r = Cmd.run(env(false, "VMHANDLER_PACKAGE_LIST=" + list, SCRIPT, "demo"));
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(callLog()).as("present now: not installed again").isEqualTo(installed);
    }

    @Test
    void anInstallThatDoesNotBringTheFileFails() {
        Cmd.Result r = Cmd.run(env(false, "VMHANDLER_PACKAGE_LIST=" + list, SCRIPT, "test"));
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("apt-get installed " + ABSENT_PKG + " but " + absentFile + " is still missing");
    }

    @Test
    void badUsageExitsTwo() throws IOException {
        Cmd.Result r = Cmd.run(SCRIPT, "demos");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).isEqualTo("bin/ensure-packages: unknown set 'demos' (known: demo test)\n");
        assertThat(Cmd.run(SCRIPT).exit()).isEqualTo(2);
        Path bad = Files.writeString(tmp.resolve("bad"), "iproute2 /usr/sbin/ip\n");
        r = Cmd.run("env", "VMHANDLER_PACKAGE_LIST=" + bad, SCRIPT, "demo");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("package list line 1: want 'package file set...'");
    }

    /**
     * The real bin/vmhandler and bin/test, copied beside a Maven wrapper stand-in that logs and fails:
     * {@code demo} ensures the demo set before building, other commands do not, and a missing package
     * that cannot be installed stops it before the build.
     */
    @Test
    void vmhandlerDemoAndBinTestEnsureTheirSetBeforeBuilding() throws IOException {
        Path repo = Files.createDirectories(tmp.resolve("repo/bin"));
        for (String s : List.of("vmhandler", "test", "ensure-packages")) {
            Files.copy(REPO.resolve("bin").resolve(s), repo.resolve(s), StandardCopyOption.COPY_ATTRIBUTES);
        }
        executable(repo.resolveSibling("mvnw"), """
                #!/bin/sh
                echo "mvnw $*" >> "$VMH_CALLS"
                exit 1
                """);
        String vmhandler = repo.resolve("vmhandler").toString();
        String listEnv = "VMHANDLER_PACKAGE_LIST=" + list;
        String build = "mvnw -B -q -DskipTests -Dmaven.javadoc.skip=true install";

        Cmd.Result r = Cmd.run(env(true, listEnv, vmhandler, "demo"));
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("  " + ABSENT_PKG + " (provides " + absentFile + ")").doesNotContain("building");
        assertThat(callLog()).as("stopped before the build").isEmpty();

        r = Cmd.run(env(false, listEnv, vmhandler, "doctor"));
        assertThat(r.err()).doesNotContain("ensure-packages");
        assertThat(callLog()).as("only the demo installs packages").containsExactly(build);
        r = Cmd.run(env(false, listEnv, vmhandler, "demo", "--help"));
        assertThat(callLog()).containsExactly(build, build);

        r = Cmd.run(env(false, listEnv, "VMH_PROVIDE=" + absentFile, vmhandler, "demo", "--keep-running"));
        assertThat(r.err()).contains("bin/ensure-packages demo: installing with apt-get: " + ABSENT_PKG)
                .contains("vmhandler: build failed");
        assertThat(callLog().subList(2, callLog().size())).containsExactly(UPDATE, INSTALL, build);

        Files.delete(absentFile);
        r = Cmd.run(env(false, listEnv, "VMH_PROVIDE=" + absentFile, repo.resolve("test").toString(), "-Dx=1"));
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("bin/ensure-packages test: installing with apt-get: " + ABSENT_PKG);
        assertThat(callLog().subList(5, callLog().size())).containsExactly(UPDATE, INSTALL,
                "mvnw -B -Dhandler.requireRoot=true verify -Dx=1");
    }

    /** argv run through env with the stand-ins first on PATH and the call log set; as uid 65534 if asked. */
    private List<String> env(boolean nobody, String... argv) {
        List<String> full = new ArrayList<>();
        if (nobody) {
            full.addAll(List.of(NOBODY));
        }
        full.addAll(List.of("env", "PATH=" + fakeBin + ":" + System.getenv("PATH"), "VMH_CALLS=" + calls));
        full.addAll(List.of(argv));
        return full;
    }

    private List<String> callLog() throws IOException {
        return Files.readAllLines(calls);
    }

    private static void executable(Path file, String text) throws IOException {
        Files.writeString(file, text);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
    }
}
