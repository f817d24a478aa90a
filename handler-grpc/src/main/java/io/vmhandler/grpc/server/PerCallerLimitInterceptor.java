package io.vmhandler.grpc.server;

import io.grpc.ForwardingServerCall.SimpleForwardingServerCall;
import io.grpc.ForwardingServerCallListener.SimpleForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.vmhandler.grpc.CallerIdentity;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Caps the calls in flight per caller (SO_PEERCRED uid + pid); a call over the cap is closed at once
 * with RESOURCE_EXHAUSTED, so one launcher cannot occupy the worker pool the other launchers share.
 * Must run inside {@link PeerCredentialsInterceptor} (it reads {@link PeerCredentialsInterceptor#CALLER_KEY}).
 * Thread-safe: counters are per caller and removed when they drop to zero.
 */
public final class PerCallerLimitInterceptor implements ServerInterceptor {
    private static final Logger log = LoggerFactory.getLogger(PerCallerLimitInterceptor.class);

    private record Key(int uid, int pid) {}

    private final int maxPerCaller;
    private final ConcurrentHashMap<Key, Integer> inFlight = new ConcurrentHashMap<>();

    public PerCallerLimitInterceptor(int maxPerCaller) {
        if (maxPerCaller < 1) {
            throw new IllegalArgumentException("maxConcurrentCallsPerCaller: must be >= 1, got " + maxPerCaller);
        }
        this.maxPerCaller = maxPerCaller;
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                       ServerCallHandler<Q, R> next) {
        CallerIdentity caller = PeerCredentialsInterceptor.CALLER_KEY.get();
        if (caller == null) {
            call.close(Status.UNAUTHENTICATED.withDescription("no SO_PEERCRED credentials for this call"), new Metadata());
            return new ServerCall.Listener<>() {};
        }
        Key key = new Key(caller.uid(), caller.pid());
        if (!tryAcquire(key)) {
            log.atWarn().addKeyValue("caller", caller).addKeyValue("method", call.getMethodDescriptor().getFullMethodName())
                    .addKeyValue("limit", maxPerCaller).log("caller over its concurrent call limit: refused");
            call.close(Status.RESOURCE_EXHAUSTED.withDescription(
                    "more than " + maxPerCaller + " concurrent calls from this process"), new Metadata());
            return new ServerCall.Listener<>() {};
        }
        AtomicBoolean released = new AtomicBoolean();
        Runnable release = () -> {
            if (released.compareAndSet(false, true)) {
                this.release(key);
            }
        };
        // The slot is freed when the server closes the call, before the status can reach the client, so a
        // client that sends its next call as soon as it has the reply is never refused; onCancel covers
        // calls that end without a close (cancelled, deadline passed). Both come after the handler has
        // returned (call events are serialized), so a timed-out call keeps its slot while the backend works.
        ServerCall<Q, R> releasing = new SimpleForwardingServerCall<>(call) {
            @Override
            public void close(Status status, Metadata trailers) {
                release.run();
                super.close(status, trailers);
            }
        };
        ServerCall.Listener<Q> delegate;
        try {
            delegate = next.startCall(releasing, headers);
        } catch (RuntimeException | Error e) {
            release.run();
            throw e;
        }
        return new SimpleForwardingServerCallListener<>(delegate) {
            @Override
            public void onComplete() {
                try {
                    super.onComplete();
                } finally {
                    release.run();
                }
            }

            @Override
            public void onCancel() {
                try {
                    super.onCancel();
                } finally {
                    release.run();
                }
            }
        };
    }

    /** Calls in flight for this caller (for tests and metrics). */
    public int inFlight(CallerIdentity caller) {
        return inFlight.getOrDefault(new Key(caller.uid(), caller.pid()), 0);
    }

    private boolean tryAcquire(Key key) {
        boolean[] ok = {false};
        inFlight.compute(key, (k, n) -> {
            int now = n == null ? 0 : n;
            if (now >= maxPerCaller) {
                return now;
            }
            ok[0] = true;
            return now + 1;
        });
        return ok[0];
    }

    private void release(Key key) {
        inFlight.computeIfPresent(key, (k, n) -> n <= 1 ? null : n - 1);
    }
}
