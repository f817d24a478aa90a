package io.vmhandler.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.vmhandler.core.app.Daemon;
import io.vmhandler.cli.demo.EmbeddedApiServer;
import io.vmhandler.core.watch.VmiResources;
import io.vmhandler.testing.Cmd;
import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.Root;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The daemon in API mode against fabric8's mock API server in CRUD mode (the only test double here:
 * no real API server can run on this machine). Launchers are real processes in fake pods.
 */
class DaemonApiModeIT {
    @RegisterExtension
    final HostCleanup host = new HostCleanup();

    private static final HostCleanup shared = new HostCleanup();
    private static ApiModeNode node;
    private static EmbeddedApiServer api;
    private static Daemon daemon;
    private static Path classpath;
    private static Path socket;

    @BeforeAll
    static void start() throws Exception {
        Root.require();
        classpath = FakePod.readableClasspath(shared);
        node = ApiModeNode.start(shared, "vmh-apimode-");
        api = node.api;
        daemon = node.daemon;
        socket = node.socket;
    }

    @AfterAll
    static void stop() {
        shared.cleanupNow();
    }

    private GenericKubernetesResource schedule(FakePod pod, String name, String extra) throws Exception {
        GenericKubernetesResource r = node.schedule(pod, name, pod.vmi(name, ApiModeNode.NODE, extra));
        host.add(() -> node.deleteVmi(name));
        return r;
    }

    private String metrics() throws Exception {
        return node.metrics();
    }

    @Test
    void aVmiAddedIsKnownAndLauncherCallsWorkOnlyWhileItIsOnThisNode() throws Exception {
        FakePod pod = new FakePod(host, "0-1");
        schedule(pod, "vm-a", "");
        await().atMost(Duration.ofSeconds(20)).until(() -> daemon.directory().byPodUid(pod.uid).isPresent());
        Cmd.Result ok = pod.launcher(classpath, socket, "prepare-network");
        assertThat(ok.exit()).as(ok.err()).isZero();
        assertThat(Cmd.run("ip", "-n", pod.netnsName, "-d", "link").ok().out()).contains("tap0");

        api.client().genericKubernetesResources(VmiResources.CONTEXT).inNamespace("default").withName("vm-a")
                .edit(r -> {
                    r.getMetadata().getLabels().put(VmiResources.NODE_LABEL, "node2");
                    return r;
                });
        await().atMost(Duration.ofSeconds(20)).until(() -> daemon.directory().byPodUid(pod.uid).isEmpty());
        Cmd.Result denied = pod.launcher(classpath, socket, "release");
        assertThat(denied.exit()).isEqualTo(1);
        assertThat(denied.err()).startsWith("PERMISSION_DENIED");
    }

    @Test
    void aHostDeviceHotplugReappliesMemlockAndADeletedVmiLeavesNoState() throws Exception {
        FakePod pod = new FakePod(host, "0-1");
        schedule(pod, "vm-h", "");
        await().atMost(Duration.ofSeconds(20)).until(() -> daemon.directory().byPodUid(pod.uid).isPresent());
        Process libvirtd = pod.sleeper(0);
        Cmd.Result set = pod.launcher(classpath, socket, "set-memlock", "--pid", Long.toString(libvirtd.pid()));
        assertThat(set.exit()).as(set.err()).isZero();
        Path ckpt = node.checkpoints;
        await().atMost(Duration.ofSeconds(10)).until(() -> grep(ckpt, "memlockLimit"));

        // hotplug: a host device makes libvirt's limit 1 x 128 MiB + 1 GiB; the daemon re-applies it to the
        // recorded libvirtd. Without CAP_SYS_RESOURCE (this machine) the kernel refuses and the attempt shows
        // in the per-operation metrics; with it, the new limit shows in /proc/PID/limits.
        api.client().genericKubernetesResources(VmiResources.CONTEXT).inNamespace("default").withName("vm-h")
                .edit(r -> {
                    @SuppressWarnings("unchecked")
                    Map<String, Object> spec = (Map<String, Object>) r.getAdditionalProperties().get("spec");
                    @SuppressWarnings("unchecked")
                    Map<String, Object> domain = (Map<String, Object>) spec.get("domain");
                    @SuppressWarnings("unchecked")
                    Map<String, Object> devices = (Map<String, Object>) domain.get("devices");
                    devices.put("hostDevices", List.of(Map.of("name", "hd", "deviceName", "vendor.com/dev")));
                    return r;
                });
        await().atMost(Duration.ofSeconds(30)).until(() -> {
            String m = metrics();
            return m.contains("op=\"memlock_apply\",result=\"EPERM\"") || Files.readString(
                    Path.of("/proc/" + libvirtd.pid() + "/limits")).contains("1207959552");
        });

        api.client().genericKubernetesResources(VmiResources.CONTEXT).inNamespace("default").withName("vm-h").delete();
        await().atMost(Duration.ofSeconds(20)).until(() -> daemon.directory().byPodUid(pod.uid).isEmpty()
                && !grep(ckpt, "default/vm-h"));
    }

    @Test
    void theInformerResumesAfterTheApiServerRestarts() throws Exception {
        FakePod pod = new FakePod(host, "0-1");
        api.restart();
        schedule(pod, "vm-r", "");
        await().atMost(Duration.ofSeconds(60)).until(() -> daemon.directory().byPodUid(pod.uid).isPresent());
        assertThat(pod.launcher(classpath, socket, "prepare-network").exit()).isZero();
    }

    private static boolean grep(Path dir, String needle) throws Exception {
        try (var files = Files.list(dir)) {
            for (Path f : files.toList()) {
                if (Files.isRegularFile(f) && Files.readString(f).contains(needle)) {
                    return true;
                }
            }
        }
        return false;
    }
}
