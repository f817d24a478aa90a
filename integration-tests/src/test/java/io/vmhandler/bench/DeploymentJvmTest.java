package io.vmhandler.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The benchmarks' JVM flags come from the deployment files, so the bench and the image cannot drift. */
class DeploymentJvmTest {
    private static final String CONTAINERFILE = """
            FROM x
            ENTRYPOINT ["java", "-XX:+UseSerialGC", "-Xss512k", \\
                        "-XX:SharedArchiveFile=/opt/a.jsa", "-Xshare:auto", \\
                        "@/opt/cp.args", "io.vmhandler.cli.Main"]
            CMD ["--help"]
            """;
    private static final String DAEMONSET = """
                      env:
                        - name: JAVA_TOOL_OPTIONS
                          value: "-XX:MaxRAMPercentage=50 -XX:+ExitOnOutOfMemoryError"
                      resources:
                        requests:
                          memory: 192Mi
                        # a comment
                        limits:
                          memory: 384Mi
            """;

    @Test
    void aJvmThatHoldsMoreThanTheDaemonKeepsTheRelativeHeapFlagsAndDropsTheAbsoluteSizes() {
        DeploymentJvm jvm = new DeploymentJvm(List.of("-XX:+UseSerialGC", "-Xss512k", "-XX:MinHeapFreeRatio=10",
                "-Xms24m", "-Xmx64m", "-Xmn8m", "-XX:InitialHeapSize=25165824", "-XX:MaxHeapSize=1g",
                "-XX:NewSize=4m", "-XX:NewRatio=2"), List.of(), 384L << 20);
        assertThat(jvm.imageWithoutHeapSizes())
                .containsExactly("-XX:+UseSerialGC", "-Xss512k", "-XX:MinHeapFreeRatio=10", "-XX:NewRatio=2");
    }

    @Test
    void imageFlagsStopAtTheClasspathAndLeaveTheArchiveToTheCaller() {
        DeploymentJvm jvm = DeploymentJvm.parse(CONTAINERFILE, DAEMONSET);

        assertThat(jvm.image()).containsExactly("-XX:+UseSerialGC", "-Xss512k");
        assertThat(jvm.toolOptions()).containsExactly("-XX:MaxRAMPercentage=50", "-XX:+ExitOnOutOfMemoryError");
        assertThat(jvm.memoryLimitBytes()).isEqualTo(384L << 20);
        assertThat(jvm.flags()).containsExactly("-XX:+UseSerialGC", "-Xss512k", "-XX:MaxRAMPercentage=50",
                "-XX:+ExitOnOutOfMemoryError", "-XX:MaxRAM=384m");
        assertThat(jvm.flagsWithArchive(Path.of("/t/b.jsa"))).endsWith("-XX:SharedArchiveFile=/t/b.jsa", "-Xshare:auto");
    }

    @Test
    void theRepositorysOwnDeploymentParses() {
        DeploymentJvm jvm = DeploymentJvm.ofRepository();

        // what the DaemonSet and the image are sized by; a reworded file must still yield them
        assertThat(jvm.image()).contains("-XX:+UseSerialGC").noneMatch(f -> f.startsWith("-Xshare"));
        assertThat(jvm.toolOptions()).anyMatch(f -> f.startsWith("-XX:MaxRAMPercentage="));
        assertThat(jvm.memoryLimitBytes()).isGreaterThanOrEqualTo(128L << 20);
    }

    /**
     * The image's flags hang together: -XX:CICompilerCount=1 is refused by a JVM with the full tiered compiler
     * ("CICompilerCount (1) must be at least 2"), so dropping -XX:TieredStopAtLevel=1 alone would leave an image
     * whose daemon never starts. The JVM running the tests is a 17, the image's major version.
     */
    @Test
    void theJvmAcceptsTheRepositorysFlags() throws Exception {
        List<String> argv = new ArrayList<>(List.of(DaemonBench.javaBin()));
        argv.addAll(DeploymentJvm.ofRepository().flags());
        argv.add("-version");
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as("%s: %s", argv, out).isZero();
    }

    @Test
    void aMissingFieldIsNamed() {
        assertThatThrownBy(() -> DeploymentJvm.parse("FROM x\nCMD [\"java\"]\n", DAEMONSET))
                .hasMessageContaining("deploy/Containerfile").hasMessageContaining("ENTRYPOINT");
        assertThatThrownBy(() -> DeploymentJvm.parse(CONTAINERFILE, "env: []\n"))
                .hasMessageContaining("deploy/base/daemonset.yaml").hasMessageContaining("JAVA_TOOL_OPTIONS");
        assertThatThrownBy(() -> DeploymentJvm.parse(CONTAINERFILE, DAEMONSET.replace("384Mi", "1T")))
                .hasMessageContaining("limits.memory");
    }

    @Test
    void theImagesJarsAreTheCopiesIntoItsLibMinusTestJarsSortedByName(@TempDir Path root) throws Exception {
        for (String f : List.of("handler-core/target/lib/zeta-1.jar", "handler-core/target/lib/alpha-2.jar",
                "handler-core/target/lib/notes.txt", "handler-core/target/handler-core-0.1.jar",
                "handler-core/target/handler-core-0.1-tests.jar", "handler-cli/target/handler-cli-0.1.jar",
                "handler-cli/target/lib/mock-server-8.jar", "deploy/cds/vmhandler.classlist")) {
            Files.createDirectories(root.resolve(f).getParent());
            Files.writeString(root.resolve(f), "x");
        }
        String containerfile = """
                FROM x
                COPY handler-core/target/lib/ /opt/vmhandler/lib/
                COPY handler-core/target/handler-core-*.jar /opt/vmhandler/lib/
                COPY handler-cli/target/handler-cli-*.jar /opt/vmhandler/lib/
                COPY deploy/cds/ /opt/vmhandler/cds/
                """;

        assertThat(DeploymentJvm.imageJars(root, containerfile)).extracting(p -> p.getFileName().toString())
                .containsExactly("alpha-2.jar", "handler-cli-0.1.jar", "handler-core-0.1.jar", "zeta-1.jar");
    }

    @Test
    void aCopyIntoLibThatMatchesNoJarIsNamed(@TempDir Path root) {
        String containerfile = "FROM x\nCOPY handler-cli/target/handler-cli-*.jar /opt/vmhandler/lib/\n";

        assertThatThrownBy(() -> DeploymentJvm.imageJars(root, containerfile))
                .hasMessageContaining("COPY handler-cli/target/handler-cli-*.jar").hasMessageContaining("build first");
        assertThatThrownBy(() -> DeploymentJvm.imageJars(root, "FROM x\n"))
                .hasMessageContaining("no COPY");
    }

    @Test
    void theImageRemovesTheTestJarsTheBenchmarkLeavesOut() throws Exception {
        // the benchmark drops *-tests.jar because the image's RUN does: both must change together
        String containerfile = Files.readString(DeploymentJvm.repositoryRoot().resolve(DeploymentJvm.CONTAINERFILE));

        assertThat(containerfile).contains("rm -f lib/*" + DeploymentJvm.TEST_JAR_SUFFIX)
                .containsPattern("(?m)^COPY \\S+ " + DeploymentJvm.IMAGE_LIB + "$");
    }
}
