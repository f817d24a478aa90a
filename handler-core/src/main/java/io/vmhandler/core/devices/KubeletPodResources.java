package io.vmhandler.core.devices;

import io.vmhandler.grpc.podresources.PodResourcesClient;
import io.vmhandler.grpc.podresources.v1.ContainerDevices;
import io.vmhandler.grpc.podresources.v1.ContainerResources;
import io.vmhandler.grpc.podresources.v1.PodResources;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/** {@link PodResourcesLister} over kubelet's socket: every device of every container, per pod. */
public final class KubeletPodResources implements PodResourcesLister {
    private final PodResourcesClient client;

    public KubeletPodResources(PodResourcesClient client) {
        this.client = client;
    }

    @Override
    public List<AllocatedPod> list() throws IOException {
        List<AllocatedPod> out = new ArrayList<>();
        for (PodResources p : client.list().getPodResourcesList()) {
            List<Device> devices = new ArrayList<>();
            for (ContainerResources c : p.getContainersList()) {
                for (ContainerDevices d : c.getDevicesList()) {
                    for (String id : d.getDeviceIdsList()) {
                        devices.add(new Device(d.getResourceName(), id));
                    }
                }
            }
            out.add(new AllocatedPod(p.getNamespace(), p.getName(), devices));
        }
        return out;
    }
}
