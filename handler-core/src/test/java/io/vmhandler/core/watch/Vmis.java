package io.vmhandler.core.watch;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.Resource;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Builds and writes small but realistic VMIs for the watch tests. */
final class Vmis {
    private Vmis() {}

    static GenericKubernetesResource vmi(String namespace, String name, String node) {
        Map<String, Object> cpu = new LinkedHashMap<>(Map.of("cores", 4, "dedicatedCpuPlacement", true));
        Map<String, Object> devices = new LinkedHashMap<>();
        devices.put("networkInterfaceMultiqueue", true);
        devices.put("interfaces", List.of(Map.of("name", "default", "masquerade", Map.of())));
        Map<String, Object> domain = new LinkedHashMap<>();
        domain.put("cpu", cpu);
        domain.put("devices", devices);
        domain.put("memory", Map.of("guest", "2Gi"));
        Map<String, Object> spec = new LinkedHashMap<>();
        spec.put("domain", domain);
        spec.put("networks", List.of(Map.of("name", "default", "pod", Map.of())));
        return new GenericKubernetesResourceBuilder().withApiVersion("kubevirt.io/v1").withKind("VirtualMachineInstance")
                .withNewMetadata().withNamespace(namespace).withName(name)
                .addToLabels(VmiResources.NODE_LABEL, node).addToAnnotations("example.org/owner", "tests").endMetadata()
                .addToAdditionalProperties("spec", spec)
                .addToAdditionalProperties("status", new LinkedHashMap<>(Map.of("phase", "Scheduled",
                        "activePods", Map.of("6d1f0c1e-0000-4000-8000-000000000001", node))))
                .build();
    }

    static Resource<GenericKubernetesResource> resource(KubernetesClient c, String namespace, String name) {
        return c.genericKubernetesResources(VmiResources.CONTEXT).inNamespace(namespace).withName(name);
    }

    /**
     * Creates the VMI, then writes its status through /status the way virt-controller does: with
     * the status subresource enabled, the API server drops status sent on create.
     */
    static GenericKubernetesResource create(KubernetesClient c, GenericKubernetesResource vmi) {
        var api = c.genericKubernetesResources(VmiResources.CONTEXT).inNamespace(vmi.getMetadata().getNamespace());
        GenericKubernetesResource created = api.resource(vmi).create();
        Object status = vmi.getAdditionalProperties().get("status");
        if (status == null) {
            return created;
        }
        created.getAdditionalProperties().put("status", status);
        return api.resource(created).updateStatus();
    }
}
