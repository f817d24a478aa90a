package io.vmhandler.cli.deploy;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.jdkhttp.JdkHttpClientFactory;
import io.fabric8.kubernetes.client.Config;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

/**
 * Reads deploy/ the way {@code kubectl apply -k} would, for the subset of kustomize the layout
 * uses (resources, components, images): every manifest parsed by fabric8 into typed objects
 * (unknown kinds such as ServiceMonitor become GenericKubernetesResource). A kustomization that
 * uses anything else is refused, so this reader cannot silently diverge from kustomize.
 */
final class Manifests {
    static final Path DEPLOY = locate();
    private static final Set<String> KNOWN_KEYS = Set.of("apiVersion", "kind", "resources", "components", "images");

    /** A client that never connects: fabric8 needs one to load typed objects. */
    static final KubernetesClient OFFLINE = new KubernetesClientBuilder()
            .withConfig(new io.fabric8.kubernetes.client.ConfigBuilder(Config.empty()).withMasterUrl("http://127.0.0.1:9").build())
            .withHttpClientFactory(new JdkHttpClientFactory()).build();

    /** Files a build read, to catch manifests that no kustomization lists. */
    final Set<Path> read = new LinkedHashSet<>();

    private Manifests() {}

    static Path locate() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.isDirectory(p.resolve("deploy/base"))) {
            p = p.getParent();
        }
        if (p == null) {
            throw new IllegalStateException("no deploy/base above " + Path.of("").toAbsolutePath());
        }
        return p.resolve("deploy");
    }

    /** The objects {@code kubectl apply -k DEPLOY/dir} would send. */
    static List<HasMetadata> build(String dir) {
        return new Manifests().kustomize(DEPLOY.resolve(dir));
    }

    static Set<Path> filesRead(String dir) {
        Manifests m = new Manifests();
        m.kustomize(DEPLOY.resolve(dir));
        return m.read;
    }

    static List<HasMetadata> load(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            return OFFLINE.load(in).items();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> yaml(Path file) {
        try {
            return (Map<String, Object>) new Load(LoadSettings.builder().build()).loadFromString(Files.readString(file));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @SuppressWarnings("unchecked")
    private List<HasMetadata> kustomize(Path dir) {
        Path file = dir.resolve("kustomization.yaml");
        read.add(file.normalize());
        Map<String, Object> k = yaml(file);
        for (String key : k.keySet()) {
            if (!KNOWN_KEYS.contains(key)) {
                throw new IllegalStateException(file + " uses '" + key + "', which this reader does not emulate");
            }
        }
        List<HasMetadata> out = new ArrayList<>();
        for (String key : List.of("resources", "components")) {
            for (String r : (List<String>) k.getOrDefault(key, List.of())) {
                Path p = dir.resolve(r).normalize();
                if (Files.isDirectory(p)) {
                    out.addAll(kustomize(p));
                } else {
                    read.add(p);
                    out.addAll(load(p));
                }
            }
        }
        for (Map<String, Object> img : (List<Map<String, Object>>) k.getOrDefault("images", List.of())) {
            for (HasMetadata o : out) {
                if (o instanceof DaemonSet ds) {
                    ds.getSpec().getTemplate().getSpec().getContainers().forEach(c -> {
                        String name = c.getImage().replaceFirst(":[^:/]*$", "");
                        if (name.equals(img.get("name"))) {
                            String newName = (String) img.getOrDefault("newName", name);
                            c.setImage(newName + ":" + img.get("newTag"));
                        }
                    });
                }
            }
        }
        return out;
    }
}
