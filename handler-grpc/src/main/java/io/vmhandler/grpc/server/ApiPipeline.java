package io.vmhandler.grpc.server;

import io.grpc.BindableService;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import java.util.List;

/**
 * Wraps services the way every launcher API server serves them, outermost first:
 * {@link ObservingInterceptor} (metrics for every call, refused ones too), then
 * {@link PeerCredentialsInterceptor} (no SO_PEERCRED: UNAUTHENTICATED), then
 * {@link PerCallerLimitInterceptor} (over the cap: RESOURCE_EXHAUSTED), then {@link RequestGuard}
 * (oversized / malformed / undecompressable / missing request, or headers {@link StreamHeaderCheck} refused:
 * INVALID_ARGUMENT), then the service.
 * The unix-socket server and the in-process tests use the same pipeline.
 */
public final class ApiPipeline {
    private final int maxRequestBytes;
    private final PerCallerLimitInterceptor limiter;
    private final PeerCredentialsInterceptor credentials = new PeerCredentialsInterceptor();
    private final ObservingInterceptor observing;

    public ApiPipeline(int maxRequestBytes, int maxConcurrentCallsPerCaller) {
        this(maxRequestBytes, maxConcurrentCallsPerCaller, CallObserver.NONE);
    }

    public ApiPipeline(int maxRequestBytes, int maxConcurrentCallsPerCaller, CallObserver observer) {
        this.maxRequestBytes = maxRequestBytes;
        this.limiter = new PerCallerLimitInterceptor(maxConcurrentCallsPerCaller);
        this.observing = new ObservingInterceptor(observer);
    }

    public static ApiPipeline of(ServerOptions options) {
        return of(options, CallObserver.NONE);
    }

    public static ApiPipeline of(ServerOptions options, CallObserver observer) {
        return new ApiPipeline(options.maxRequestBytes(), options.maxConcurrentCallsPerCaller(), observer);
    }

    /** One limiter is shared by all services, so the per-caller cap counts calls to any of them. */
    public List<ServerServiceDefinition> wrap(List<? extends BindableService> services) {
        return services.stream().map(s -> ServerInterceptors.intercept(
                RequestGuard.guard(s.bindService(), maxRequestBytes), limiter, credentials, observing)).toList();
    }

    public PerCallerLimitInterceptor limiter() {
        return limiter;
    }
}
