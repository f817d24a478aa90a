package io.vmhandler.grpc.server;

import io.grpc.Context;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.Status;

/**
 * The one {@link ServerCall.Listener} of a call through the {@link ApiPipeline}, in front of the service's own:
 * runs every event in the call's {@link Context} (which carries {@link ApiPipeline#CALLER_KEY}); passes the service
 * exactly one well-formed request, and otherwise closes the call with INVALID_ARGUMENT once the client has
 * half-closed (the reason: the headers {@link StreamHeaderCheck} refused, the request {@link RequestGuard} could not
 * decode, a second request, or none); frees the caller's slot when the call completes or is cancelled.
 * Events of one call are serialized by grpc, so the state needs no lock.
 */
final class GuardedListener<Q> extends ServerCall.Listener<RequestGuard.Decoded<Q>> {
    private final GuardedCall<Q, ?> call;
    private final ServerCall.Listener<Q> delegate;
    private final Context context;
    private final String methodName;
    private String rejected;
    private boolean received;

    /**
     * @param headerRejection why {@link StreamHeaderCheck} refused the call's headers, or null
     */
    GuardedListener(GuardedCall<Q, ?> call, ServerCall.Listener<Q> delegate, Context context, String methodName,
                    String headerRejection) {
        this.call = call;
        this.delegate = delegate;
        this.context = context;
        this.methodName = methodName;
        this.rejected = headerRejection;
    }

    @Override
    public void onMessage(RequestGuard.Decoded<Q> message) {
        Context previous = context.attach();
        try {
            if (rejected == null && message.error() == null && !received) {
                received = true;
                delegate.onMessage(message.value());
                return;
            }
            if (rejected == null) {
                rejected = message.error() != null ? message.error()
                        : "more than one request message for unary method " + methodName;
            }
            // keep draining: the status is sent once the client has finished sending (onHalfClose), since closing a
            // stream the client is still writing makes HTTP/2 reset it and the client would only see CANCELLED
            // instead of the reason
            call.request(1);
        } finally {
            context.detach(previous);
        }
    }

    @Override
    public void onHalfClose() {
        Context previous = context.attach();
        try {
            if (rejected == null && !received) {
                rejected = "no request message for unary method " + methodName;
            }
            if (rejected != null) {
                call.close(Status.INVALID_ARGUMENT.withDescription(rejected), new Metadata());
                return;
            }
            delegate.onHalfClose();
        } finally {
            context.detach(previous);
        }
    }

    @Override
    public void onCancel() {
        ended(true);
    }

    @Override
    public void onComplete() {
        ended(false);
    }

    @Override
    public void onReady() {
        Context previous = context.attach();
        try {
            delegate.onReady();
        } finally {
            context.detach(previous);
        }
    }

    /** The call's end, cancelled or completed: the service hears of it, then the caller's slot is freed. */
    private void ended(boolean cancelled) {
        Context previous = context.attach();
        try {
            if (cancelled) {
                delegate.onCancel();
            } else {
                delegate.onComplete();
            }
        } finally {
            call.releaseSlot();
            context.detach(previous);
        }
    }
}
