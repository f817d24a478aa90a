package io.vmhandler.grpc.server;

import io.grpc.ForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.time.Duration;

/** The outermost interceptor: reports each call's method, final code and duration to a {@link CallObserver}. */
final class ObservingInterceptor implements ServerInterceptor {
    private final CallObserver observer;

    ObservingInterceptor(CallObserver observer) {
        this.observer = observer;
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                      ServerCallHandler<Q, R> next) {
        long t0 = System.nanoTime();
        String method = call.getMethodDescriptor().getBareMethodName();
        return next.startCall(new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
            @Override
            public void close(Status status, Metadata trailers) {
                try {
                    observer.onClose(method, status.getCode(), Duration.ofNanos(System.nanoTime() - t0));
                } catch (RuntimeException e) {
                    // an observer failure must never change the caller's answer
                }
                super.close(status, trailers);
            }
        }, headers);
    }
}
