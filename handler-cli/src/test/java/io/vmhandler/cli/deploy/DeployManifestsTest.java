package io.vmhandler.cli.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.ValidatingAdmissionPolicy;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.ValidatingAdmissionPolicyBinding;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.vmhandler.core.model.VmiDocument;
import io.vmhandler.core.watch.VmiResources;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * deploy/ parsed by fabric8 into typed objects, with the fields that matter checked against each
 * other: the DaemonSet against the CLI contract, the Service against the DaemonSet, the
 * ServiceMonitor against the Service, RBAC against the exact least-privilege set.
 */
class DeployManifestsTest {
    static final String NS = "vmhandler";

    static <T> T one(List<HasMetadata> objs, Class<T> type) {
        List<T> l = objs.stream().filter(type::isInstance).map(type::cast).toList();
        assertThat(l).as("exactly one %s", type.getSimpleName()).hasSize(1);
        return l.get(0);
    }

    static DaemonSet daemonSet() {
        return one(Manifests.build("base"), DaemonSet.class);
    }

    static Container daemon() {
        return daemonSet().getSpec().getTemplate().getSpec().getContainers().get(0);
    }

    static String arg(Container c, String flag) {
        List<String> a = c.getArgs();
        int i = a.indexOf(flag);
        assertThat(i).as("flag %s in %s", flag, a).isGreaterThanOrEqualTo(0);
        return a.get(i + 1);
    }

    @Test
    void baseHoldsTheCoreObjectsAllInTheVmhandlerNamespace() {
        List<HasMetadata> objs = Manifests.build("base");
        assertThat(objs).extracting(HasMetadata::getKind).containsExactlyInAnyOrder(
                "Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "DaemonSet", "Service");
        assertThat(one(objs, Namespace.class).getMetadata().getName()).isEqualTo(NS);
        assertThat(one(objs, Namespace.class).getMetadata().getLabels())
                .containsEntry("pod-security.kubernetes.io/enforce", "privileged");
        objs.stream().filter(o -> !(o instanceof Namespace || o instanceof ClusterRole || o instanceof ClusterRoleBinding))
                .forEach(o -> assertThat(o.getMetadata().getNamespace()).as(o.getKind()).isEqualTo(NS));
    }

    @Test
    void daemonSetIsPrivilegedInTheHostPidNamespaceWithItsServiceAccount() {
        PodSpec pod = daemonSet().getSpec().getTemplate().getSpec();
        assertThat(pod.getHostPID()).isTrue();
        assertThat(pod.getHostNetwork()).isNotEqualTo(Boolean.TRUE);
        assertThat(pod.getServiceAccountName()).isEqualTo(
                one(Manifests.build("base"), ServiceAccount.class).getMetadata().getName());
        assertThat(pod.getContainers()).hasSize(1);
        assertThat(daemon().getSecurityContext().getPrivileged()).isTrue();
        assertThat(daemon().getSecurityContext().getRunAsUser()).isZero();
        assertThat(daemon().getSecurityContext().getReadOnlyRootFilesystem()).isTrue();
        assertThat(daemon().getImage()).isEqualTo("localhost/vmhandler:0.1.0");
        assertThat(daemonSet().getSpec().getTemplate().getMetadata().getLabels())
                .containsAllEntriesOf(daemonSet().getSpec().getSelector().getMatchLabels());
    }

    @Test
    void daemonArgsFollowTheRunContractAndNodeNameComesFromTheDownwardApi() {
        assertThat(daemon().getArgs()).containsExactly("run", "--node", "$(NODE_NAME)",
                "--socket", "/var/run/vmhandler/launcher.sock", "--metrics-port", "9464",
                "--checkpoint-dir", "/var/lib/vmhandler");
        var env = daemon().getEnv().stream().filter(e -> e.getName().equals("NODE_NAME")).findFirst().orElseThrow();
        assertThat(env.getValueFrom().getFieldRef().getFieldPath()).isEqualTo("spec.nodeName");
    }

    @Test
    void hostPathsAreMountedWhereTheArgsPointAndNothingElseIsShared() {
        PodSpec pod = daemonSet().getSpec().getTemplate().getSpec();
        Map<String, Volume> vols = pod.getVolumes().stream().collect(Collectors.toMap(Volume::getName, v -> v));
        Map<String, String> hostToMount = daemon().getVolumeMounts().stream()
                .filter(m -> vols.get(m.getName()).getHostPath() != null)
                .collect(Collectors.toMap(m -> vols.get(m.getName()).getHostPath().getPath(), VolumeMount::getMountPath));
        assertThat(hostToMount).containsOnly(
                Map.entry("/var/run/vmhandler", "/var/run/vmhandler"),
                Map.entry("/var/lib/vmhandler", "/var/lib/vmhandler"),
                Map.entry("/sys/fs/cgroup", "/sys/fs/cgroup"),
                Map.entry("/etc/selinux", "/etc/selinux"),
                Map.entry("/var/lib/selinux", "/var/lib/selinux"),
                Map.entry("/var/lib/kubelet/pod-resources", "/var/lib/kubelet/pod-resources"));
        // kubelet's PodResources socket is only read from (PrepareDevices' VFIO allocation)
        assertThat(daemon().getVolumeMounts()).filteredOn(m -> m.getMountPath().equals("/var/lib/kubelet/pod-resources"))
                .singleElement().satisfies(m -> assertThat(m.getReadOnly()).isTrue());
        assertThat(vols.get("pod-resources").getHostPath().getType()).isEqualTo("Directory");
        assertThat(Path.of(arg(daemon(), "--socket")).getParent().toString()).isEqualTo("/var/run/vmhandler");
        assertThat(arg(daemon(), "--checkpoint-dir")).isEqualTo("/var/lib/vmhandler");
        // a read-only root needs a writable /tmp for the JVM and the native libraries it unpacks
        assertThat(daemon().getVolumeMounts()).anySatisfy(m -> {
            assertThat(m.getMountPath()).isEqualTo("/tmp");
            assertThat(vols.get(m.getName()).getEmptyDir()).isNotNull();
        });
        assertThat(daemon().getVolumeMounts()).allSatisfy(m -> assertThat(vols).containsKey(m.getName()));
    }

    @Test
    void probesHitHealthAndReadinessOnTheMetricsPort() {
        ContainerPort metrics = daemon().getPorts().stream().filter(p -> "metrics".equals(p.getName())).findFirst()
                .orElseThrow();
        assertThat(metrics.getContainerPort()).isEqualTo(Integer.parseInt(arg(daemon(), "--metrics-port")));
        Probe live = daemon().getLivenessProbe();
        Probe ready = daemon().getReadinessProbe();
        assertThat(live.getHttpGet().getPath()).isEqualTo("/healthz");
        assertThat(ready.getHttpGet().getPath()).isEqualTo("/readyz");
        assertThat(daemon().getStartupProbe().getHttpGet().getPath()).isEqualTo("/healthz");
        for (Probe p : List.of(live, ready, daemon().getStartupProbe())) {
            assertThat(p.getHttpGet().getPort().getStrVal()).isEqualTo("metrics");
        }
    }

    @Test
    void resourcesAreRequestedAndMemoryIsLimited() {
        var r = daemon().getResources();
        assertThat(r.getRequests()).containsKeys("cpu", "memory");
        assertThat(Quantity.getAmountInBytes(r.getLimits().get("memory")))
                .isGreaterThanOrEqualTo(Quantity.getAmountInBytes(r.getRequests().get("memory")));
        // the target is an RSS under 200 MiB with 500 VMIs: the limit leaves room above it
        assertThat(Quantity.getAmountInBytes(r.getLimits().get("memory")).longValue()).isGreaterThan(200L << 20);
    }

    @Test
    void serviceSelectsTheDaemonPodsAndExposesTheMetricsPortByName() {
        Service svc = one(Manifests.build("base"), Service.class);
        assertThat(daemonSet().getSpec().getTemplate().getMetadata().getLabels())
                .containsAllEntriesOf(svc.getSpec().getSelector());
        assertThat(svc.getSpec().getPorts()).singleElement().satisfies(p -> {
            assertThat(p.getName()).isEqualTo("metrics");
            assertThat(p.getPort()).isEqualTo(9464);
            assertThat(p.getTargetPort().getStrVal()).isEqualTo("metrics");
        });
        assertThat(svc.getSpec().getClusterIP()).isEqualTo("None");
    }

    @Test
    void serviceMonitorSelectsTheServiceAndScrapesItsNamedPort() {
        List<HasMetadata> objs = Manifests.build("overlays/monitoring");
        Service svc = one(objs, Service.class);
        GenericKubernetesResource sm = objs.stream().filter(o -> o.getKind().equals("ServiceMonitor"))
                .map(GenericKubernetesResource.class::cast).findFirst().orElseThrow();
        assertThat(sm.getApiVersion()).isEqualTo("monitoring.coreos.com/v1");
        assertThat(sm.getMetadata().getNamespace()).isEqualTo(NS);
        Map<String, Object> matchLabels = sm.get("spec", "selector", "matchLabels");
        assertThat(svc.getMetadata().getLabels()).containsAllEntriesOf(
                matchLabels.entrySet().stream().collect(Collectors.toMap(Map.Entry::getKey, e -> String.valueOf(e.getValue()))));
        List<String> namespaces = sm.get("spec", "namespaceSelector", "matchNames");
        assertThat(namespaces).containsExactly(svc.getMetadata().getNamespace());
        List<Map<String, Object>> endpoints = sm.get("spec", "endpoints");
        assertThat(endpoints).singleElement().satisfies(e -> {
            assertThat(e.get("port")).isEqualTo(svc.getSpec().getPorts().get(0).getName());
            assertThat(e.get("path")).isEqualTo("/metrics");
        });
    }

    @Test
    void rbacGrantsExactlyTheLeastPrivilegeSetToTheDaemonsServiceAccount() {
        List<HasMetadata> objs = Manifests.build("base");
        ClusterRole role = one(objs, ClusterRole.class);
        ClusterRoleBinding binding = one(objs, ClusterRoleBinding.class);
        ServiceAccount sa = one(objs, ServiceAccount.class);
        assertThat(binding.getRoleRef().getKind()).isEqualTo("ClusterRole");
        assertThat(binding.getRoleRef().getName()).isEqualTo(role.getMetadata().getName());
        assertThat(binding.getSubjects()).singleElement().satisfies(s -> {
            assertThat(s.getKind()).isEqualTo("ServiceAccount");
            assertThat(s.getName()).isEqualTo(sa.getMetadata().getName());
            assertThat(s.getNamespace()).isEqualTo(sa.getMetadata().getNamespace());
        });

        Set<String> grants = new TreeSet<>();
        for (PolicyRule r : role.getRules()) {
            assertThat(r.getResourceNames()).as("no resourceNames: RBAC cannot name 'my own node'").isNullOrEmpty();
            assertThat(r.getNonResourceURLs()).isNullOrEmpty();
            for (String g : r.getApiGroups()) {
                for (String res : r.getResources()) {
                    for (String v : r.getVerbs()) {
                        grants.add((g.isEmpty() ? "core" : g) + " " + res + " " + v);
                    }
                }
            }
        }
        assertThat(grants).containsExactlyInAnyOrder(
                "kubevirt.io virtualmachineinstances get",
                "kubevirt.io virtualmachineinstances list",
                "kubevirt.io virtualmachineinstances watch",
                "kubevirt.io virtualmachineinstances update",
                "kubevirt.io virtualmachineinstances/status update",
                "kubevirt.io virtualmachineinstances/status patch",
                "core events create",
                "core events patch",
                "core nodes get",
                "core nodes patch");
        assertThat(grants).noneMatch(g -> g.contains("*"));
    }

    @Test
    void nodeRestrictionPoliciesMatchTheDaemonsAccountAndAreBoundToDeny() {
        List<HasMetadata> objs = Manifests.build("overlays/hardened");
        ServiceAccount sa = one(objs, ServiceAccount.class);
        String user = "system:serviceaccount:" + sa.getMetadata().getNamespace() + ":" + sa.getMetadata().getName();
        List<ValidatingAdmissionPolicy> policies = objs.stream().filter(ValidatingAdmissionPolicy.class::isInstance)
                .map(ValidatingAdmissionPolicy.class::cast).toList();
        List<ValidatingAdmissionPolicyBinding> bindings = objs.stream().filter(ValidatingAdmissionPolicyBinding.class::isInstance)
                .map(ValidatingAdmissionPolicyBinding.class::cast).toList();
        assertThat(policies).extracting(p -> p.getMetadata().getName())
                .containsExactlyInAnyOrder("vmhandler-node-restriction", "vmhandler-vmi-restriction");
        for (ValidatingAdmissionPolicy p : policies) {
            assertThat(p.getSpec().getFailurePolicy()).isEqualTo("Fail");
            assertThat(p.getSpec().getMatchConditions()).singleElement()
                    .satisfies(c -> assertThat(c.getExpression()).contains("'" + user + "'"));
            assertThat(p.getSpec().getValidations()).anySatisfy(v ->
                    assertThat(v.getExpression()).contains("variables.nodeClaim"));
            assertThat(p.getSpec().getVariables()).anySatisfy(v ->
                    assertThat(v.getExpression()).contains("authentication.kubernetes.io/node-name"));
            assertThat(bindings).anySatisfy(b -> {
                assertThat(b.getSpec().getPolicyName()).isEqualTo(p.getMetadata().getName());
                assertThat(b.getSpec().getValidationActions()).containsExactly("Deny");
            });
        }
        ValidatingAdmissionPolicy nodes = policies.stream()
                .filter(p -> p.getMetadata().getName().equals("vmhandler-node-restriction")).findFirst().orElseThrow();
        assertThat(nodes.getSpec().getMatchConstraints().getResourceRules()).singleElement().satisfies(r -> {
            assertThat(r.getResources()).containsExactly("nodes");
            assertThat(r.getOperations()).containsExactly("UPDATE");
        });
    }

    @Test
    void overlaysAddOnlyTheirComponentsToTheBase() {
        Set<String> base = names(Manifests.build("base"));
        assertThat(names(Manifests.build("overlays/monitoring"))).containsAll(base)
                .hasSize(base.size() + 1).contains("ServiceMonitor/vmhandler");
        assertThat(names(Manifests.build("overlays/hardened"))).containsAll(base).hasSize(base.size() + 5);
    }

    @Test
    void everyManifestIsReachableFromSomeKustomization() throws IOException {
        Set<Path> reachable = new TreeSet<>();
        for (String dir : List.of("base", "overlays/monitoring", "overlays/hardened")) {
            reachable.addAll(Manifests.filesRead(dir));
        }
        try (Stream<Path> all = Files.walk(Manifests.DEPLOY)) {
            List<Path> yaml = all.filter(p -> p.toString().endsWith(".yaml"))
                    .filter(p -> !p.startsWith(Manifests.DEPLOY.resolve("examples"))).map(Path::normalize).toList();
            assertThat(reachable).containsAll(yaml);
        }
    }

    @Test
    void sampleVmiIsOnANodeWithDedicatedCpusMultiqueueAndAnActivePod() throws IOException {
        Path file = Manifests.DEPLOY.resolve("examples/vmi.yaml");
        GenericKubernetesResource r = Manifests.load(file).stream().map(GenericKubernetesResource.class::cast)
                .findFirst().orElseThrow();
        VmiDocument d = VmiResources.toDocument(r);
        assertThat(VmiDocument.read(file).key()).isEqualTo(d.key());
        assertThat(d.string("apiVersion", null)).isEqualTo("kubevirt.io/v1");
        assertThat(d.map("metadata.labels")).containsKey(VmiResources.NODE_LABEL);
        String node = (String) d.map("metadata.labels").get(VmiResources.NODE_LABEL);
        assertThat(d.integer("spec.domain.cpu.cores", 1, 1, 512) * d.integer("spec.domain.cpu.sockets", 1, 1, 512)
                * d.integer("spec.domain.cpu.threads", 1, 1, 512)).isEqualTo(4);
        assertThat(d.bool("spec.domain.cpu.dedicatedCpuPlacement", false)).isTrue();
        assertThat(d.bool("spec.domain.devices.networkInterfaceMultiqueue", false)).isTrue();
        assertThat(d.string("spec.domain.memory.guest", null)).isEqualTo("4Gi");
        assertThat(d.list("spec.domain.devices.interfaces")).singleElement()
                .satisfies(i -> assertThat(i).containsKey("masquerade"));
        assertThat(d.map("status.activePods")).hasSize(1).containsValue(node);
        assertThat(d.string("status.nodeName", null)).isEqualTo(node);
    }

    @Test
    void containerfileRunsTheOneCompositionRootFromTheMavenOutput() throws Exception {
        String cf = Files.readString(Manifests.DEPLOY.resolve("Containerfile"));
        assertThat(cf).contains("COPY handler-core/target/lib/ /opt/vmhandler/lib/")
                .contains("COPY handler-core/target/handler-core-*.jar /opt/vmhandler/lib/")
                .contains("COPY handler-cli/target/handler-cli-*.jar /opt/vmhandler/lib/")
                .containsPattern("FROM \\S*eclipse-temurin:17-jre");
        // handler-cli's own lib/ carries the demo's mock API server: the image never copies it
        assertThat(cf.lines().filter(l -> l.startsWith("COPY")).toList()).noneMatch(l -> l.contains("handler-cli/target/lib"));
        // the archive is built for, and the daemon started with, the same @argfile classpath
        assertThat(cf).contains("cds/build-archive").contains("\"-XX:SharedArchiveFile=/opt/vmhandler/vmhandler.jsa\"")
                .contains("\"-Xshare:auto\"").contains("\"@/opt/vmhandler/classpath.args\"");
        assertThat(Manifests.DEPLOY.resolve("cds/build-archive")).isExecutable();
        assertThat(Manifests.DEPLOY.resolve("cds/vmhandler.classlist")).isNotEmptyFile();
        var main = java.util.regex.Pattern.compile("\"(io\\.vmhandler\\.[\\w.]+)\"\\]").matcher(cf);
        assertThat(main.find()).isTrue();
        assertThat(main.group(1)).isEqualTo("io.vmhandler.cli.Main");
        assertThat(Class.forName(main.group(1)).getMethod("main", String[].class)).isNotNull();
    }

    static Set<String> names(List<HasMetadata> objs) {
        return objs.stream().map(o -> o.getKind() + "/" + o.getMetadata().getName()).collect(Collectors.toCollection(TreeSet::new));
    }

    /**
     * The image's lib/ is handler-core's runtime classpath (deploy/Containerfile copies handler-core/target/lib):
     * it must not carry fabric8's mock server or its web server, which only the demo needs. The reactor build
     * packages handler-core before it tests this module, so the directory is there.
     */
    @Test
    void theImageLibHasNoMockApiServer() throws Exception {
        Path lib = Manifests.DEPLOY.getParent().resolve("handler-core/target/lib");
        assertThat(lib).as("handler-core's package phase makes %s; run the reactor build", lib).isDirectory();
        try (var jars = Files.list(lib)) {
            List<String> names = jars.map(p -> p.getFileName().toString()).sorted().toList();
            assertThat(names).isNotEmpty().anyMatch(n -> n.startsWith("kubernetes-client-"))
                    .noneMatch(n -> n.startsWith("kubernetes-server-mock") || n.startsWith("mockwebserver"));
        }
    }
}
