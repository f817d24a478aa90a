package io.vmhandler.core.devices;

import io.vmhandler.grpc.podresources.PodResourcesClient;
import io.vmhandler.nativeio.NetNamespace;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * Where PrepareDevices finds the node's facts: its /dev, its /sys, kubelet's PodResources socket; the
 * daemon's and the CLI's /proc come from their own config. Each has an environment override, so a
 * DaemonSet that mounts the host paths elsewhere can say so.
 *
 * @param hostDev the node's /dev ({@value #HOST_DEV_ENV})
 * @param sysfsRoot the node's /sys ({@value #SYSFS_ROOT_ENV})
 * @param podResourcesSocket kubelet's pod-resources socket ({@value #PODRESOURCES_SOCKET_ENV})
 */
public record DeviceSettings(Path hostDev, Path sysfsRoot, Path podResourcesSocket) {
    public static final String HOST_DEV_ENV = "VMHANDLER_HOST_DEV";
    public static final String SYSFS_ROOT_ENV = "VMHANDLER_SYSFS_ROOT";
    public static final String PODRESOURCES_SOCKET_ENV = "VMHANDLER_PODRESOURCES_SOCKET";
    /** kubelet answers List from memory; seconds mean it is down. */
    static final Duration KUBELET_DEADLINE = Duration.ofSeconds(5);

    public static DeviceSettings fromEnvironment() {
        return from(System.getenv());
    }

    static DeviceSettings from(Map<String, String> env) {
        return new DeviceSettings(path(env, HOST_DEV_ENV, Path.of("/dev")), path(env, SYSFS_ROOT_ENV, Path.of("/sys")),
                path(env, PODRESOURCES_SOCKET_ENV, PodResourcesClient.DEFAULT_SOCKET));
    }

    private static Path path(Map<String, String> env, String name, Path dflt) {
        String v = env.get(name);
        return v == null || v.isBlank() ? dflt : Path.of(v);
    }

    /**
     * The PrepareDevices service; {@code procRoot} is the caller's /proc (its devices file and sys/net).
     * The returned client is connected lazily and lives as long as the process.
     */
    public PodDevices podDevices(Path procRoot, NetNamespace netns) {
        PodResourcesLister kubelet = new LazyPodResources(
                () -> new KubeletPodResources(PodResourcesClient.connect(podResourcesSocket, KUBELET_DEADLINE)));
        return new PodDevices(new HostDevices(hostDev, procRoot.resolve("devices")), new VfioGroups(kubelet, sysfsRoot),
                new PodSysctls(netns, procRoot));
    }
}
