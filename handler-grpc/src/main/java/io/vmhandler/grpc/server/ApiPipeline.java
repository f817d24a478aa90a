package io.vmhandler.grpc.server;

import io.grpc.BindableService;
import io.grpc.Context;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import io.vmhandler.grpc.CallerIdentity;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves services the way every launcher API server serves them. Every call goes through one handler
 * ({@link #start}), one {@link ServerCall} wrapper ({@link GuardedCall}) and one listener ({@link GuardedListener}),
 * and meets these checks in this order:
 * <ol>
 *   <li>observed: its method, final code and duration go to the {@link CallObserver} when it closes, whatever
 *       closes it, the refusals below included;</li>
 *   <li>kernel credentials: a connection without SO_PEERCRED ({@link PeerCredentialsNegotiator#CALLER_ATTR}) is
 *       answered UNAUTHENTICATED; otherwise the caller goes into the call's gRPC {@link Context} under
 *       {@link #CALLER_KEY}, attached while the service starts and for every event of the call. Identity is never
 *       read from metadata or the request;</li>
 *   <li>per-caller limit ({@link PerCallerLimit}): over the cap, RESOURCE_EXHAUSTED; the slot is freed when the call
 *       closes, completes or is cancelled, once;</li>
 *   <li>request guard: headers {@link StreamHeaderCheck} refused, or a request {@link RequestGuard} cannot decode
 *       (oversized, malformed, undecompressable), or a second request, or none: INVALID_ARGUMENT at half-close,
 *       before the service sees anything;</li>
 *   <li>the service, under its own unary method descriptor.</li>
 * </ol>
 * Why one handler rather than a ServerInterceptor per check: under the deployment's C1-only JIT
 * ({@code -XX:TieredStopAtLevel=1}) a virtual call through a forwarding layer is not inlined, so every layer cost
 * its calls on every event of every call (docs/launcher-perf.md).
 *
 * <p>The unix-socket server and the in-process tests use the same pipeline. Unary methods only: a streaming method
 * is refused by {@link #wrap}, since its calls would need checks this pipeline does not make (one slot held
 * across many messages).
 */
public final class ApiPipeline {
    /** The caller of the current call, as the kernel reported it (SO_PEERCRED). */
    public static final Context.Key<CallerIdentity> CALLER_KEY = Context.key("vmhandler.caller");

    private static final Logger log = LoggerFactory.getLogger(ApiPipeline.class);
    @SuppressWarnings("rawtypes")
    private static final ServerCall.Listener REFUSED = new ServerCall.Listener<>() {};

    private final int maxRequestBytes;
    private final PerCallerLimit limit;
    private final CallObserver observer;

    public ApiPipeline(int maxRequestBytes, int maxConcurrentCallsPerCaller) {
        this(maxRequestBytes, maxConcurrentCallsPerCaller, CallObserver.NONE);
    }

    public ApiPipeline(int maxRequestBytes, int maxConcurrentCallsPerCaller, CallObserver observer) {
        this.maxRequestBytes = maxRequestBytes;
        this.limit = new PerCallerLimit(maxConcurrentCallsPerCaller);
        this.observer = observer;
    }

    public static ApiPipeline of(ServerOptions options) {
        return of(options, CallObserver.NONE);
    }

    public static ApiPipeline of(ServerOptions options, CallObserver observer) {
        return new ApiPipeline(options.maxRequestBytes(), options.maxConcurrentCallsPerCaller(), observer);
    }

    /**
     * Each service with every method behind the checks. One limit is shared by all services, so the per-caller
     * cap counts calls to any of them.
     *
     * @throws IllegalArgumentException if a service has a method that is not unary (named in the message)
     */
    public List<ServerServiceDefinition> wrap(List<? extends BindableService> services) {
        return services.stream().map(s -> wrap(s.bindService())).toList();
    }

    /** Calls in flight per caller, for metrics and tests. */
    public PerCallerLimit limiter() {
        return limit;
    }

    private ServerServiceDefinition wrap(ServerServiceDefinition service) {
        ServiceDescriptor original = service.getServiceDescriptor();
        ServiceDescriptor.Builder descriptor = ServiceDescriptor.newBuilder(original.getName())
                .setSchemaDescriptor(original.getSchemaDescriptor());
        List<ServerMethodDefinition<?, ?>> methods = new ArrayList<>();
        for (ServerMethodDefinition<?, ?> m : service.getMethods()) {
            ServerMethodDefinition<?, ?> guarded = guard(m);
            descriptor.addMethod(guarded.getMethodDescriptor());
            methods.add(guarded);
        }
        ServerServiceDefinition.Builder out = ServerServiceDefinition.builder(descriptor.build());
        methods.forEach(out::addMethod);
        return out.build();
    }

    private <Q, R> ServerMethodDefinition<RequestGuard.Decoded<Q>, R> guard(ServerMethodDefinition<Q, R> m) {
        MethodDescriptor<Q, R> inner = m.getMethodDescriptor();
        if (inner.getType() != MethodDescriptor.MethodType.UNARY) {
            throw new IllegalArgumentException("method " + inner.getFullMethodName() + ": must be UNARY to be served "
                    + "through the ApiPipeline, got " + inner.getType());
        }
        ServerCallHandler<Q, R> handler = m.getServerCallHandler();
        String name = inner.getBareMethodName(); // computed here once: grpc derives it from the full name per call
        return ServerMethodDefinition.create(RequestGuard.decoding(inner, maxRequestBytes),
                (call, headers) -> start(call, headers, inner, name, handler));
    }

    /** The checks of the class comment, in that order, for one call. */
    @SuppressWarnings("unchecked")
    private <Q, R> ServerCall.Listener<RequestGuard.Decoded<Q>> start(ServerCall<RequestGuard.Decoded<Q>, R> wire,
                                                                      Metadata headers, MethodDescriptor<Q, R> inner,
                                                                      String name, ServerCallHandler<Q, R> handler) {
        GuardedCall<Q, R> call = new GuardedCall<>(wire, inner, name, observer, limit);
        CallerIdentity caller = wire.getAttributes().get(PeerCredentialsNegotiator.CALLER_ATTR);
        if (caller == null) {
            call.close(Status.UNAUTHENTICATED.withDescription("no SO_PEERCRED credentials for this connection"),
                    new Metadata());
            return REFUSED;
        }
        if (!call.acquireSlot(caller)) {
            log.atWarn().addKeyValue("caller", caller).addKeyValue("method", inner.getFullMethodName())
                    .addKeyValue("limit", limit.max()).log("caller over its concurrent call limit: refused");
            call.close(Status.RESOURCE_EXHAUSTED.withDescription(
                    "more than " + limit.max() + " concurrent calls from this process"), new Metadata());
            return REFUSED;
        }
        Context context = Context.current().withValue(CALLER_KEY, caller);
        ServerCall.Listener<Q> delegate;
        Context previous = context.attach();
        try {
            delegate = handler.startCall(call, headers);
        } catch (RuntimeException | Error e) {
            call.releaseSlot();
            throw e;
        } finally {
            context.detach(previous);
        }
        return new GuardedListener<>(call, delegate, context, name, StreamHeaderCheck.rejection(headers));
    }
}
