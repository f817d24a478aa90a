package io.vmhandler.core.devices;

import java.io.IOException;
import java.util.List;

/**
 * kubelet's view of which devices each pod on the node was allocated (PodResourcesLister/List). The
 * daemon's implementation asks kubelet over its pod-resources socket; tests run a server on a socket.
 */
@FunctionalInterface
public interface PodResourcesLister {
    /** One allocated device: the device plugin's resource name and device ID. */
    record Device(String resource, String id) {}

    /** A pod and every device allocated to any of its containers. */
    record AllocatedPod(String namespace, String name, List<Device> devices) {
        public AllocatedPod {
            devices = List.copyOf(devices);
        }
    }

    List<AllocatedPod> list() throws IOException;

    /** For nodes without kubelet's socket (standalone mode): no pod was allocated any device. */
    PodResourcesLister NONE = List::of;
}
