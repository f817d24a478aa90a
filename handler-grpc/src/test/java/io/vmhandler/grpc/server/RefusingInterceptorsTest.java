package io.vmhandler.grpc.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Context;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.Status;
import io.vmhandler.grpc.CallerIdentity;
import io.vmhandler.grpc.v1.LauncherGrpc;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The two interceptors that refuse a call before any service code runs, driven call by call through their
 * public API (PerCallerLimitTest and LauncherServiceV1Test cover them end to end): a call without kernel
 * credentials is closed UNAUTHENTICATED and never started; for the per-caller counter, every way a call ends
 * frees its slot exactly once, and a refusal frees nothing.
 */
class RefusingInterceptorsTest {
    private static final CallerIdentity A = new CallerIdentity(100, 107, 107);
    private final List<ServerCall<?, ?>> started = new ArrayList<>();
    private final ServerCallHandler<Object, Object> next = (call, headers) -> {
        started.add(call);
        return new ServerCall.Listener<>() {};
    };

    /** A server call that records how it was closed. */
    private static final class Recorded extends ServerCall<Object, Object> {
        Status closed;

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
        @SuppressWarnings("unchecked")
        public MethodDescriptor<Object, Object> getMethodDescriptor() {
            return (MethodDescriptor<Object, Object>) (MethodDescriptor<?, ?>) LauncherGrpc.getPrepareNetworkMethod();
        }
    }

    private static ServerCall.Listener<Object> call(PerCallerLimitInterceptor limiter, CallerIdentity caller,
                                                    Recorded call, ServerCallHandler<Object, Object> next) {
        Context ctx = caller == null ? Context.ROOT : Context.ROOT.withValue(PeerCredentialsInterceptor.CALLER_KEY, caller);
        Context previous = ctx.attach();
        try {
            return limiter.interceptCall(call, new Metadata(), next);
        } finally {
            ctx.detach(previous);
        }
    }

    @Test
    void aConnectionWithoutSoPeercredIsUnauthenticatedAndNeverStarted() {
        Recorded c = new Recorded();
        ServerCall.Listener<Object> l = new PeerCredentialsInterceptor().interceptCall(c, new Metadata(), next);
        assertThat(l).isNotNull();
        assertThat(c.closed.getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(c.closed.getDescription()).isEqualTo("no SO_PEERCRED credentials for this connection");
        assertThat(started).isEmpty();
    }

    @Test
    void theCapIsAtLeastOne() {
        assertThat(new PerCallerLimitInterceptor(1).inFlight(A)).isZero();
        assertThatThrownBy(() -> new PerCallerLimitInterceptor(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("maxConcurrentCallsPerCaller: must be >= 1, got 0");
    }

    @Test
    void aCallWithoutKernelCredentialsIsUnauthenticatedAndNeverStarted() {
        PerCallerLimitInterceptor limiter = new PerCallerLimitInterceptor(1);
        Recorded c = new Recorded();
        ServerCall.Listener<Object> l = call(limiter, null, c, next);
        assertThat(l).isNotNull();
        assertThat(c.closed.getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(c.closed.getDescription()).isEqualTo("no SO_PEERCRED credentials for this call");
        assertThat(started).isEmpty();
    }

    @Test
    void aRefusedCallKeepsTheCountAndEveryEndFreesItsSlotOnce() {
        PerCallerLimitInterceptor limiter = new PerCallerLimitInterceptor(2);
        ServerCall.Listener<Object> first = call(limiter, A, new Recorded(), next);
        ServerCall.Listener<Object> second = call(limiter, A, new Recorded(), next);
        assertThat(limiter.inFlight(A)).isEqualTo(2);

        for (int i = 0; i < 2; i++) {
            Recorded refused = new Recorded();
            assertThat(call(limiter, A, refused, next)).isNotNull();
            assertThat(refused.closed.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
            assertThat(refused.closed.getDescription()).isEqualTo("more than 2 concurrent calls from this process");
            assertThat(limiter.inFlight(A)).isEqualTo(2);
        }
        assertThat(started).hasSize(2);

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
        assertThat(call(limiter, A, new Recorded(), next)).isNotNull();
        assertThat(limiter.inFlight(A)).isEqualTo(1);
    }

    @Test
    void aHandlerThatThrowsWhileStartingFreesItsSlot() {
        PerCallerLimitInterceptor limiter = new PerCallerLimitInterceptor(1);
        ServerCallHandler<Object, Object> failing = (call, headers) -> {
            throw new IllegalStateException("handler failed");
        };
        assertThatThrownBy(() -> call(limiter, A, new Recorded(), failing)).isInstanceOf(IllegalStateException.class);
        assertThat(limiter.inFlight(A)).isZero();
    }
}
