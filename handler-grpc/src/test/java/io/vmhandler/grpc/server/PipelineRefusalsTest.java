package io.vmhandler.grpc.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Attributes;
import io.grpc.BindableService;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.vmhandler.grpc.CallerIdentity;
import io.vmhandler.grpc.v1.LauncherGrpc;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The checks that refuse a call before any service code runs, driven call by call through the handler
 * {@link ApiPipeline} registers for a method (PerCallerLimitTest and LauncherServiceV1Test cover them end to end):
 * a call without kernel credentials is closed UNAUTHENTICATED and never started; for the per-caller counter, every
 * way a call ends frees its slot exactly once, and a refusal frees nothing; the observer sees every close, the
 * refusals included, under the method's bare name.
 */
class PipelineRefusalsTest {
    private static final CallerIdentity A = new CallerIdentity(100, 107, 107);
    @SuppressWarnings("unchecked")
    private static final MethodDescriptor<Object, Object> METHOD =
            (MethodDescriptor<Object, Object>) (MethodDescriptor<?, ?>) LauncherGrpc.getPrepareNetworkMethod();
    private final List<ServerCall<?, ?>> started = new ArrayList<>();
    private final List<String> observed = new ArrayList<>();
    private final ServerCallHandler<Object, Object> next = (call, headers) -> {
        started.add(call);
        return new ServerCall.Listener<>() {};
    };

    /** A wire call from {@code caller}'s connection (null: no SO_PEERCRED) that records how it was closed. */
    private static final class Recorded extends ServerCall<Object, Object> {
        private final Attributes attributes;
        Status closed;
        boolean ready;

        Recorded(CallerIdentity caller) {
            attributes = caller == null ? Attributes.EMPTY
                    : Attributes.newBuilder().set(PeerCredentialsNegotiator.CALLER_ATTR, caller).build();
        }

        @Override
        public void request(int numMessages) {}

        @Override
        public void sendHeaders(Metadata headers) {}

        @Override
        public void sendMessage(Object message) {}

        @Override
        public void close(Status status, Metadata trailers) {
            closed = status;
        }

        @Override
        public boolean isCancelled() {
            return false;
        }

        @Override
        public boolean isReady() {
            return ready;
        }

        @Override
        public Attributes getAttributes() {
            return attributes;
        }

        @Override
        public MethodDescriptor<Object, Object> getMethodDescriptor() {
            return METHOD;
        }
    }

    private ApiPipeline pipeline(int perCaller) {
        return new ApiPipeline(1024, perCaller, (method, code, took) -> observed.add(method + " " + code));
    }

    /** Starts one call through the handler {@code pipeline} puts in front of {@code service}. */
    @SuppressWarnings("unchecked")
    private static ServerCall.Listener<Object> call(ApiPipeline pipeline, Recorded call,
                                                    ServerCallHandler<Object, Object> service) {
        BindableService bindable = () -> ServerServiceDefinition.builder(LauncherGrpc.SERVICE_NAME)
                .addMethod(METHOD, service).build();
        ServerCallHandler<Object, Object> handler = (ServerCallHandler<Object, Object>) pipeline.wrap(List.of(bindable))
                .get(0).getMethod(METHOD.getFullMethodName()).getServerCallHandler();
        return handler.startCall(call, new Metadata());
    }

    @Test
    void aConnectionWithoutSoPeercredIsUnauthenticatedAndNeverStarted() {
        Recorded c = new Recorded(null);
        ServerCall.Listener<Object> l = call(pipeline(1), c, next);
        assertThat(l).isNotNull();
        assertThat(c.closed.getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(c.closed.getDescription()).isEqualTo("no SO_PEERCRED credentials for this connection");
        assertThat(started).isEmpty();
        assertThat(observed).containsExactly("PrepareNetwork UNAUTHENTICATED");
    }

    @Test
    void theCapIsAtLeastOne() {
        assertThat(new PerCallerLimit(1).inFlight(A)).isZero();
        assertThatThrownBy(() -> new PerCallerLimit(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("maxConcurrentCallsPerCaller: must be >= 1, got 0");
    }

    @Test
    void aRefusedCallKeepsTheCountAndEveryEndFreesItsSlotOnce() {
        ApiPipeline pipeline = pipeline(2);
        PerCallerLimit limiter = pipeline.limiter();
        ServerCall.Listener<Object> first = call(pipeline, new Recorded(A), next);
        ServerCall.Listener<Object> second = call(pipeline, new Recorded(A), next);
        assertThat(limiter.inFlight(A)).isEqualTo(2);

        for (int i = 0; i < 2; i++) {
            Recorded refused = new Recorded(A);
            assertThat(call(pipeline, refused, next)).isNotNull();
            assertThat(refused.closed.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
            assertThat(refused.closed.getDescription()).isEqualTo("more than 2 concurrent calls from this process");
            assertThat(limiter.inFlight(A)).isEqualTo(2);
        }
        assertThat(started).hasSize(2);
        assertThat(started.get(0).getMethodDescriptor()).isSameAs(METHOD);

        second.onCancel();
        assertThat(limiter.inFlight(A)).isEqualTo(1);
        second.onComplete();
        assertThat(limiter.inFlight(A)).isEqualTo(1);

        // the server closes the first call: its slot is free before the status leaves, and its end frees nothing more
        started.get(0).close(Status.OK, new Metadata());
        assertThat(limiter.inFlight(A)).isZero();
        first.onComplete();
        first.onCancel();
        assertThat(limiter.inFlight(A)).isZero();
        assertThat(call(pipeline, new Recorded(A), next)).isNotNull();
        assertThat(limiter.inFlight(A)).isEqualTo(1);
        assertThat(observed).containsExactly("PrepareNetwork RESOURCE_EXHAUSTED", "PrepareNetwork RESOURCE_EXHAUSTED",
                "PrepareNetwork OK");
    }

    @Test
    void aHandlerThatThrowsWhileStartingFreesItsSlot() {
        ApiPipeline pipeline = pipeline(1);
        ServerCallHandler<Object, Object> failing = (call, headers) -> {
            throw new IllegalStateException("handler failed");
        };
        assertThatThrownBy(() -> call(pipeline, new Recorded(A), failing)).isInstanceOf(IllegalStateException.class);
        assertThat(pipeline.limiter().inFlight(A)).isZero();
    }

    @Test
    void theServiceStartsWithTheKernelCallerInItsContext() {
        List<CallerIdentity> seen = new ArrayList<>();
        call(pipeline(1), new Recorded(A), (call, headers) -> {
            seen.add(ApiPipeline.CALLER_KEY.get());
            return new ServerCall.Listener<>() {};
        });
        assertThat(seen).containsExactly(A);
        assertThat(ApiPipeline.CALLER_KEY.get()).isNull();
    }

    @Test
    void aStreamingMethodIsRefusedWhenWrapped() {
        MethodDescriptor<Object, Object> streaming = METHOD.toBuilder()
                .setType(MethodDescriptor.MethodType.SERVER_STREAMING).build();
        BindableService bindable = () -> ServerServiceDefinition.builder(LauncherGrpc.SERVICE_NAME)
                .addMethod(streaming, next).build();
        assertThatThrownBy(() -> pipeline(1).wrap(List.of(bindable))).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("method vmhandler.launcher.v1.Launcher/PrepareNetwork: must be UNARY to be served through "
                        + "the ApiPipeline, got SERVER_STREAMING");
    }

    /** The count goes down one per release, the caller's entry goes with its last slot, and an absent slot is a no-op. */
    @Test
    void releasingCountsDownAndDropsTheCallerWithItsLastSlot() {
        PerCallerLimit limit = new PerCallerLimit(3);
        PerCallerLimit.Slot one = limit.acquire(A);
        PerCallerLimit.Slot two = limit.acquire(A);
        assertThat(limit.inFlight(A)).isEqualTo(2);
        limit.release(two);
        assertThat(limit.inFlight(A)).isEqualTo(1);
        assertThat(limit.callers()).isEqualTo(1);
        limit.release(one);
        assertThat(limit.inFlight(A)).isZero();
        assertThat(limit.callers()).as("no entry left for a caller with nothing in flight").isZero();
        limit.release(one);
        assertThat(limit.callers()).isZero();
        assertThat(limit.acquire(A)).isNotNull();
        assertThat(limit.inFlight(A)).isEqualTo(1);
    }

    /**
     * Every listener event reaches the service's listener with the caller in the Context and leaves the Context as it
     * was; the call the service holds answers isReady as the wire call does; the observer gets the call's duration.
     */
    @Test
    void everyEventReachesTheServiceInTheCallersContextAndRestoresTheContext() {
        List<String> events = new ArrayList<>();
        List<java.time.Duration> took = new ArrayList<>();
        ApiPipeline pipeline = new ApiPipeline(1024, 1, (method, code, duration) -> took.add(duration));
        List<ServerCall<Object, Object>> calls = new ArrayList<>();
        Recorded wire = new Recorded(A);
        long t0 = System.nanoTime();
        @SuppressWarnings("unchecked")
        ServerCall.Listener<RequestGuard.Decoded<Object>> l = (ServerCall.Listener<RequestGuard.Decoded<Object>>)
                (ServerCall.Listener<?>) call(pipeline, wire, (call, headers) -> {
                    calls.add(call);
                    return new ServerCall.Listener<>() {
                        private void seen(String event) {
                            events.add(event + " " + ApiPipeline.CALLER_KEY.get());
                        }

                        @Override
                        public void onMessage(Object message) {
                            seen("message " + message);
                        }

                        @Override
                        public void onHalfClose() {
                            seen("halfClose");
                        }

                        @Override
                        public void onReady() {
                            seen("ready");
                        }

                        @Override
                        public void onComplete() {
                            seen("complete");
                        }
                    };
                });
        io.grpc.Context before = io.grpc.Context.current();
        l.onReady();
        assertThat(io.grpc.Context.current()).isSameAs(before);
        l.onMessage(new RequestGuard.Decoded<>("req", null));
        assertThat(io.grpc.Context.current()).isSameAs(before);
        l.onHalfClose();
        assertThat(io.grpc.Context.current()).isSameAs(before);
        assertThat(calls.get(0).isReady()).isFalse();
        wire.ready = true;
        assertThat(calls.get(0).isReady()).isTrue();
        calls.get(0).close(Status.OK, new Metadata());
        long elapsed = System.nanoTime() - t0;
        l.onComplete();
        assertThat(io.grpc.Context.current()).isSameAs(before);
        assertThat(events).containsExactly("ready " + A, "message req " + A, "halfClose " + A, "complete " + A);
        assertThat(took).hasSize(1);
        assertThat(took.get(0).toNanos()).isBetween(0L, elapsed);
    }
}
