package io.vmhandler.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.core.app.Daemon;
import io.vmhandler.core.devices.DeviceSettings;
import io.vmhandler.grpc.podresources.v1.ListPodResourcesResponse;
import io.vmhandler.testing.Cmd;
import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.Root;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * PrepareDevices end to end: a standalone daemon, its launcher socket, and the launcher CLI run as
 * uid 107 without capabilities inside a pod with its own mount namespace (tmpfs /dev of mknod nodes)
 * and netns. The daemon learns the pod's mount namespace and netns from the caller's SO_PEERCRED pid
 * only. kubelet's PodResources is the in-test server.
 */
class LauncherDevicesIT {
    @RegisterExtension
    final HostCleanup host = new HostCleanup();

    @Test
    void aLauncherWithoutCapabilitiesGetsItsDevicesAndSysctlsOverTheSocket() throws Exception {
        Root.require();
        Path work = Files.createTempDirectory("vmh-ldev-");
        host.add(() -> Cmd.run("rm", "-rf", work.toString()));
        Path hostDev = Files.createDirectories(work.resolve("host-dev"));
        Cmd.run("/bin/sh", "-c", "cd " + hostDev + " && mknod -m 600 kvm c 10 232 && mknod -m 600 vhost-net c 10 238").ok();
        FakePodResources kubelet = FakePodResources.start(host, work, ListPodResourcesResponse.getDefaultInstance());
        Path classpath = FakePod.readableClasspath(host);
        StandaloneDirs dirs = StandaloneDirs.create(host, "vmh-ldev-");
        Daemon daemon = new Daemon(dirs.config(StandaloneNode.NODE))
                .deviceSettings(new DeviceSettings(hostDev, work.resolve("sys"), kubelet.socket)).start();
        host.add(daemon::close);
        DevicePod pod = new DevicePod(host, "0");
        Files.writeString(dirs.vmiDir().resolve("devvm.yaml"), pod.pod.vmi("devvm", StandaloneNode.NODE, ""));
        daemon.vmiFiles().scan();
        String portBefore = Files.readString(Path.of("/proc/sys/net/ipv4/ip_unprivileged_port_start"));

        assertThat(pod.tryOpen("/dev/net/tun", "/dev/kvm")).containsExactly("EACCES", "EACCES");
        List<String> call = List.of(FakePod.javaBin(), "-Dvmhandler.log.level=WARN", "-cp", classpath + "/*",
                "io.vmhandler.cli.Main", "launcher", "--socket", dirs.socket().toString(), "prepare-devices", "--json");
        Cmd.Result r = Cmd.run(pod.asLauncher(call.toArray(String[]::new)));
        assertThat(r.exit()).as("launcher: %s %s", r.out(), r.err()).isZero();
        assertThat(r.out()).contains("/dev/kvm").contains("/dev/net/tun").contains("/dev/vhost-net")
                .contains("ip_unprivileged_port_start").contains("107 107");
        assertThat(pod.tryOpen("/dev/net/tun", "/dev/kvm")).containsExactly("OPEN", DevicePod.kvmOpenAfterGrant());
        assertThat(pod.tryOpen("/dev/vhost-vsock")).as("not asked for by the VMI").containsExactly("EACCES");
        assertThat(Files.readString(Path.of("/proc/sys/net/ipv4/ip_unprivileged_port_start"))).isEqualTo(portBefore);

        Cmd.Result again = Cmd.run(pod.asLauncher(call.toArray(String[]::new)));
        assertThat(again.out()).doesNotContain("\"changed\":true");
        assertThat(daemon.metricsPort()).isPositive();
        String metrics = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                java.net.URI.create("http://127.0.0.1:" + daemon.metricsPort() + "/metrics")).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString()).body();
        assertThat(ApiModeNode.metricIn(metrics,
                "vmhandler_privileged_operations_total{op=\"device_grant\",result=\"ok\"}")).isEqualTo(2.0);

        // a symlinked node: refused with the node named relative to the pod's root, nothing changed
        Path hostFile = Files.writeString(work.resolve("host-file"), "host");
        pod.asRoot("rm /dev/kvm && ln -s " + hostFile + " /dev/kvm");
        String hostFileBefore = Cmd.run("stat", "-c", "%u:%g %a", hostFile.toString()).ok().out();
        Cmd.Result refused = Cmd.run(pod.asLauncher(call.toArray(String[]::new)));
        assertThat(refused.exit()).isEqualTo(1);
        assertThat(refused.err()).startsWith("FAILED_PRECONDITION")
                .contains("dev/kvm in the pod: is a symbolic link, not a character device");
        assertThat(Cmd.run("stat", "-c", "%u:%g %a", hostFile.toString()).ok().out()).isEqualTo(hostFileBefore);

        // a process of no launcher pod is refused
        Cmd.Result outsider = Cmd.run(call);
        assertThat(outsider.exit()).isEqualTo(1);
        assertThat(outsider.err()).startsWith("PERMISSION_DENIED");
    }
}
