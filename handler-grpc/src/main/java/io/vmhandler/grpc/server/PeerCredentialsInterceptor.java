package io.vmhandler.grpc.server;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.vmhandler.grpc.CallerIdentity;

/**
 * Puts the connection's SO_PEERCRED ({@link PeerCredentialsNegotiator#CALLER_ATTR}) into the call's
 * gRPC {@link Context} under {@link #CALLER_KEY}; a call without credentials is closed with
 * UNAUTHENTICATED before any service code runs. Identity is never read from metadata or the request.
 * Stateless and thread-safe.
 */
public final class PeerCredentialsInterceptor implements ServerInterceptor {
    /** The caller of the current call, as the kernel reported it. */
    public static final Context.Key<CallerIdentity> CALLER_KEY = Context.key("vmhandler.caller");

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                       ServerCallHandler<Q, R> next) {
        CallerIdentity caller = call.getAttributes().get(PeerCredentialsNegotiator.CALLER_ATTR);
        if (caller == null) {
            call.close(Status.UNAUTHENTICATED.withDescription("no SO_PEERCRED credentials for this connection"),
                    new Metadata());
            return new ServerCall.Listener<>() {};
        }
        return Contexts.interceptCall(Context.current().withValue(CALLER_KEY, caller), call, headers, next);
    }
}
