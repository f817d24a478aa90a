package io.vmhandler.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

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

    @Test
    void aMissingFieldIsNamed() {
        assertThatThrownBy(() -> DeploymentJvm.parse("FROM x\nCMD [\"java\"]\n", DAEMONSET))
                .hasMessageContaining("deploy/Containerfile").hasMessageContaining("ENTRYPOINT");
        assertThatThrownBy(() -> DeploymentJvm.parse(CONTAINERFILE, "env: []\n"))
                .hasMessageContaining("deploy/base/daemonset.yaml").hasMessageContaining("JAVA_TOOL_OPTIONS");
        assertThatThrownBy(() -> DeploymentJvm.parse(CONTAINERFILE, DAEMONSET.replace("384Mi", "1T")))
                .hasMessageContaining("limits.memory");
    }
}
