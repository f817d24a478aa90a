package io.vmhandler.cli.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.authorization.v1.SubjectAccessReview;
import io.fabric8.kubernetes.api.model.authorization.v1.SubjectAccessReviewBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.jdkhttp.JdkHttpClientFactory;
import io.vmhandler.core.watch.VmiResources;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.testcontainers.junit.jupiter.Container;
import org.testcontainers.junit.jupiter.Testcontainers;
import org.testcontainers.k3s.K3sContainer;
import org.testcontainers.utility.DockerImageName;

/**
 * deploy/ on a real API server: K3s in a container. The manifests must be accepted as they are
 * (schema, admission, CEL type checks), RBAC must answer the way docs/deploy.md says, and the
 * node-restriction policy must refuse a write to another node. Needs a Docker engine and Docker
 * Hub; without Docker the class is reported as skipped (docs/build.md §9). No root needed:
 * it is an IT because it starts a container and takes about a minute.
 */
@Testcontainers(disabledWithoutDocker = true)
class DeployK3sIT {
    static final String SA_USER = "system:serviceaccount:vmhandler:vmhandler";

    @Container
    static final K3sContainer K3S = new K3sContainer(DockerImageName.parse("rancher/k3s:v1.31.4-k3s1"));

    static KubernetesClient admin;
    static String nodeName;

    @BeforeAll
    static void deploy() throws Exception {
        admin = client(Config.fromKubeconfig(K3S.getKubeConfigYaml()));
        nodeName = admin.nodes().list().getItems().get(0).getMetadata().getName();
        // KubeVirt's VMI CRD has no status subresource; install it the same way
        admin.apiextensions().v1().customResourceDefinitions().resource(VmiResources.crd(false)).create();
        admin.apiextensions().v1().customResourceDefinitions().withName(VmiResources.PLURAL + "." + VmiResources.GROUP)
                .waitUntilCondition(c -> c.getStatus() != null && c.getStatus().getConditions().stream()
                        .anyMatch(x -> x.getType().equals("Established") && x.getStatus().equals("True")), 60, TimeUnit.SECONDS);
        // the hardened overlay minus the ServiceMonitor, whose CRD K3s does not ship
        List<HasMetadata> objs = Manifests.build("overlays/hardened").stream()
                .filter(o -> !o.getKind().equals("ServiceMonitor")).toList();
        for (HasMetadata o : objs) {
            admin.resource(o).create();
        }
        GenericKubernetesResource vmi = (GenericKubernetesResource) Manifests.load(Manifests.DEPLOY.resolve("examples/vmi.yaml")).get(0);
        vmi.getMetadata().getLabels().put(VmiResources.NODE_LABEL, nodeName);
        admin.genericKubernetesResources(VmiResources.CONTEXT).inNamespace("default").resource(vmi).create();
    }

    @AfterAll
    static void close() {
        if (admin != null) {
            admin.close();
        }
    }

    static KubernetesClient client(Config c) {
        return new KubernetesClientBuilder().withConfig(c).withHttpClientFactory(new JdkHttpClientFactory()).build();
    }

    /** The daemon's identity as the API server would see its bound token on {@code node}. */
    static KubernetesClient asDaemonOn(String node) {
        Config c = new ConfigBuilder(Config.fromKubeconfig(K3S.getKubeConfigYaml())).withImpersonateUsername(SA_USER)
                .withImpersonateGroups("system:serviceaccounts", "system:serviceaccounts:vmhandler", "system:authenticated")
                .withImpersonateExtras(Map.of("authentication.kubernetes.io/node-name", List.of(node))).build();
        return client(c);
    }

    static boolean allowed(String group, String resource, String sub, String verb) {
        SubjectAccessReview r = admin.authorization().v1().subjectAccessReview().create(new SubjectAccessReviewBuilder()
                .withNewSpec().withUser(SA_USER).withNewResourceAttributes().withGroup(group).withResource(resource)
                .withSubresource(sub).withVerb(verb).endResourceAttributes().endSpec().build());
        return r.getStatus().getAllowed();
    }

    @Test
    void everyManifestWasAcceptedAndTheDaemonSetExists() {
        DaemonSet ds = admin.apps().daemonSets().inNamespace("vmhandler").withName("vmhandler").get();
        assertThat(ds).isNotNull();
        assertThat(ds.getSpec().getTemplate().getSpec().getHostPID()).isTrue();
        assertThat(admin.genericKubernetesResources(VmiResources.CONTEXT).inNamespace("default").withName("demo-vm").get())
                .isNotNull();
    }

    @Test
    void rbacAllowsTheLeastPrivilegeSetAndNothingMore() {
        assertThat(allowed("kubevirt.io", "virtualmachineinstances", "", "watch")).isTrue();
        assertThat(allowed("kubevirt.io", "virtualmachineinstances", "status", "update")).isTrue();
        assertThat(allowed("", "events", "", "patch")).isTrue();
        assertThat(allowed("", "nodes", "", "patch")).isTrue();
        assertThat(allowed("kubevirt.io", "virtualmachineinstances", "", "delete")).isFalse();
        assertThat(allowed("kubevirt.io", "virtualmachineinstances", "", "create")).isFalse();
        assertThat(allowed("", "secrets", "", "get")).isFalse();
        assertThat(allowed("", "pods", "", "list")).isFalse();
        assertThat(allowed("", "nodes", "", "delete")).isFalse();
    }

    @Test
    void nodeRestrictionLetsTheDaemonLabelOnlyItsOwnNode() {
        try (KubernetesClient own = asDaemonOn(nodeName); KubernetesClient other = asDaemonOn("some-other-node")) {
            Node n = own.nodes().withName(nodeName).edit(x -> {
                x.getMetadata().getLabels().put("vmhandler.io/ready", "true");
                return x;
            });
            assertThat(n.getMetadata().getLabels()).containsEntry("vmhandler.io/ready", "true");
            assertThatThrownBy(() -> other.nodes().withName(nodeName).edit(x -> {
                x.getMetadata().getLabels().put("vmhandler.io/ready", "false");
                return x;
            })).isInstanceOf(KubernetesClientException.class).hasMessageContaining("only the node it runs on");
            assertThatThrownBy(() -> own.nodes().withName(nodeName).edit(x -> {
                x.getMetadata().getLabels().put("node-role.kubernetes.io/control-plane", "false");
                return x;
            })).isInstanceOf(KubernetesClientException.class).hasMessageContaining("vmhandler.io/");
        }
    }

    @Test
    void vmiRestrictionAllowsStatusButNotSpecChanges() {
        try (KubernetesClient own = asDaemonOn(nodeName)) {
            var vmis = own.genericKubernetesResources(VmiResources.CONTEXT).inNamespace("default");
            vmis.withName("demo-vm").edit(v -> {
                @SuppressWarnings("unchecked")
                Map<String, Object> status = (Map<String, Object>) v.getAdditionalProperties().get("status");
                status.put("conditions", List.of(Map.of("type", "VmhandlerSynchronized", "status", "False",
                        "reason", "InvalidSpec", "message", "k3s test")));
                return v;
            });
            assertThatThrownBy(() -> vmis.withName("demo-vm").edit(v -> {
                v.getAdditionalProperties().put("spec", Map.of("domain", Map.of()));
                return v;
            })).isInstanceOf(KubernetesClientException.class).hasMessageContaining("spec");
        }
    }
}
