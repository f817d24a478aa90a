package io.vmhandler.core.watch;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.jdkhttp.JdkHttpClientFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Builds the daemon's Kubernetes client from exactly one source: the pod's service account
 * (in-cluster), a kubeconfig file, or an explicit API server URL (the demo's embedded server).
 * Always on the JDK HTTP client: fabric8's default vert.x client is excluded from the build
 * (docs/build.md §7) and the embedded mock server brings vert.x, so the factory is named here
 * instead of being left to the service loader.
 */
public final class KubeClients {
    /** Set by the kubelet in every pod (Kubernetes docs, "Accessing the API from a Pod"). */
    static final String SERVICE_HOST_ENV = "KUBERNETES_SERVICE_HOST";
    static final Path SERVICE_ACCOUNT_TOKEN = Path.of("/var/run/secrets/kubernetes.io/serviceaccount/token");

    private KubeClients() {}

    /**
     * Chooses the source: a master URL if given, else a kubeconfig if given, else in-cluster.
     *
     * @throws IllegalArgumentException if both are given, the kubeconfig is unreadable, or neither
     *     is given outside a pod
     */
    public static KubernetesClient connect(Path kubeconfig, String masterUrl) {
        if (kubeconfig != null && masterUrl != null) {
            throw new IllegalArgumentException("--kubeconfig and --master are exclusive; give one");
        }
        if (masterUrl != null) {
            return forMaster(masterUrl);
        }
        if (kubeconfig != null) {
            return fromKubeconfig(kubeconfig);
        }
        return inCluster(System.getenv());
    }

    /** The pod's service account; fabric8 re-reads the projected token file as it rotates. */
    public static KubernetesClient inCluster(Map<String, String> env) {
        if (env.get(SERVICE_HOST_ENV) == null || !Files.isReadable(SERVICE_ACCOUNT_TOKEN)) {
            throw new IllegalArgumentException("not running in a pod (no " + SERVICE_HOST_ENV + " or no "
                    + SERVICE_ACCOUNT_TOKEN + "): pass --kubeconfig FILE");
        }
        return build(Config.autoConfigure(null));
    }

    public static KubernetesClient fromKubeconfig(Path file) {
        String yaml;
        try {
            yaml = Files.readString(file);
        } catch (IOException e) {
            throw new IllegalArgumentException("--kubeconfig " + file + ": cannot read: " + e.getMessage(), e);
        }
        return build(Config.fromKubeconfig(yaml));
    }

    /** An API server URL with no credentials, e.g. the embedded server on loopback. */
    public static KubernetesClient forMaster(String url) {
        if (!url.startsWith("http://") && !url.startsWith("https://")) {
            throw new IllegalArgumentException("--master must be an http:// or https:// URL, got " + url);
        }
        return build(new ConfigBuilder(Config.empty()).withMasterUrl(url).withNamespace("default")
                .withTrustCerts(true).build());
    }

    /**
     * fabric8 retries a failed request up to 10 times with doubling backoff from 100 ms (about
     * 100 s in all). A worker waiting that long holds its VMI; 3 retries (about 0.7 s) hand the
     * failure back to the work queue, whose own backoff then applies. Watches reconnect on their
     * own schedule (watchReconnectInterval, unlimited attempts), untouched by this.
     */
    static final int REQUEST_RETRIES = 3;

    static KubernetesClient build(Config config) {
        Config tuned = new ConfigBuilder(config).withRequestRetryBackoffLimit(REQUEST_RETRIES).build();
        return new KubernetesClientBuilder().withConfig(tuned)
                .withHttpClientFactory(new JdkHttpClientFactory()).build();
    }
}
