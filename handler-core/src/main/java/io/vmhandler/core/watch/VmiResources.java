package io.vmhandler.core.watch;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaProps;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaPropsBuilder;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.vmhandler.core.model.VmiDocument;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The kubevirt.io/v1 VirtualMachineInstance resource as fabric8 sees it, without discovery, and
 * the conversion from the informer's {@link GenericKubernetesResource} to a {@link VmiDocument}.
 * Stateless; every method is thread-safe.
 */
public final class VmiResources {
    public static final String GROUP = "kubevirt.io";
    public static final String VERSION = "v1";
    public static final String PLURAL = "virtualmachineinstances";
    /**
     * The label virt-controller sets to the node a VMI runs on. VMIs are CRs, which have no field
     * selectors, so virt-handler selects its VMIs by this label too (KubeVirt
     * pkg/controller/virtinformers.go, VMISourceHost).
     */
    public static final String NODE_LABEL = "kubevirt.io/nodeName";

    /** Group, version, kind and plural given explicitly, so no discovery call is needed. */
    public static final ResourceDefinitionContext CONTEXT = new ResourceDefinitionContext.Builder()
            .withGroup(GROUP).withVersion(VERSION).withKind(VmiDocument.KIND).withPlural(PLURAL)
            .withNamespaced(true).build();

    private VmiResources() {}

    /** namespace/name: the informer store key and the work-queue key. */
    public static String key(GenericKubernetesResource r) {
        ObjectMeta m = r.getMetadata();
        return m.getNamespace() + "/" + m.getName();
    }

    /**
     * The whole object as a fresh map tree: apiVersion, kind, the metadata a reconciler may need,
     * and every other top-level field (spec, status). Nested maps and lists are copied, so a
     * caller can never change the informer's cached object.
     */
    public static VmiDocument toDocument(GenericKubernetesResource r) {
        Map<String, Object> tree = new LinkedHashMap<>();
        tree.put("apiVersion", r.getApiVersion() == null ? GROUP + "/" + VERSION : r.getApiVersion());
        tree.put("kind", r.getKind() == null ? VmiDocument.KIND : r.getKind());
        tree.put("metadata", metadata(r.getMetadata()));
        for (Map.Entry<String, Object> e : r.getAdditionalProperties().entrySet()) {
            tree.put(e.getKey(), copy(e.getValue()));
        }
        return VmiDocument.of(tree);
    }

    private static Map<String, Object> metadata(ObjectMeta m) {
        Map<String, Object> out = new LinkedHashMap<>();
        putIfPresent(out, "name", m.getName());
        putIfPresent(out, "namespace", m.getNamespace());
        putIfPresent(out, "uid", m.getUid());
        putIfPresent(out, "resourceVersion", m.getResourceVersion());
        putIfPresent(out, "generation", m.getGeneration());
        putIfPresent(out, "creationTimestamp", m.getCreationTimestamp());
        putIfPresent(out, "deletionTimestamp", m.getDeletionTimestamp());
        out.put("labels", m.getLabels() == null ? Map.of() : new LinkedHashMap<>(m.getLabels()));
        out.put("annotations", m.getAnnotations() == null ? Map.of() : new LinkedHashMap<>(m.getAnnotations()));
        return out;
    }

    private static void putIfPresent(Map<String, Object> out, String k, Object v) {
        if (v != null) {
            out.put(k, v);
        }
    }

    private static Object copy(Object v) {
        if (v instanceof Map<?, ?> m) {
            Map<String, Object> out = new LinkedHashMap<>();
            m.forEach((k, x) -> out.put(String.valueOf(k), copy(x)));
            return out;
        }
        if (v instanceof List<?> l) {
            List<Object> out = new ArrayList<>(l.size());
            l.forEach(x -> out.add(copy(x)));
            return out;
        }
        return v;
    }

    /**
     * A minimal VMI CRD for test and demo API servers. {@code withStatusSubresource} enables
     * /status semantics (fabric8's mock applies them only once a CRD says so); KubeVirt's own VMI
     * CRD has no status subresource (virt-operator NewVirtualMachineInstanceCrd), which
     * {@link VmiStatusWriter} handles by falling back to a whole-object update.
     */
    public static CustomResourceDefinition crd(boolean withStatusSubresource) {
        JSONSchemaProps open = new JSONSchemaPropsBuilder().withType("object")
                .withXKubernetesPreserveUnknownFields(true).build();
        var version = new CustomResourceDefinitionBuilder()
                .withNewMetadata().withName(PLURAL + "." + GROUP).endMetadata()
                .withNewSpec().withGroup(GROUP).withScope("Namespaced")
                .withNewNames().withKind(VmiDocument.KIND).withListKind(VmiDocument.KIND + "List")
                .withPlural(PLURAL).withSingular("virtualmachineinstance").withShortNames("vmi", "vmis").endNames()
                .addNewVersion().withName(VERSION).withServed(true).withStorage(true)
                .withNewSchema().withOpenAPIV3Schema(open).endSchema();
        if (withStatusSubresource) {
            version = version.withNewSubresources().withNewStatus().endStatus().endSubresources();
        }
        return version.endVersion().endSpec().build();
    }
}
