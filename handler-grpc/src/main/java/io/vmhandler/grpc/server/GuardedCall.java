package io.vmhandler.grpc.server;

import io.grpc.Attributes;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.SecurityLevel;
import io.grpc.ServerCall;
import io.grpc.Status;
import io.vmhandler.grpc.CallerIdentity;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReferenceFieldUpdater;

/**
 * The one {@link ServerCall} wrapper of a call through the {@link ApiPipeline}: the wire call, whose requests are
 * {@link RequestGuard.Decoded}, as the service's handler expects it, typed by the original request under the method's
 * own unary descriptor. Its {@link #close} frees the caller's slot (if the call holds one), then reports the method,
 * final code and duration to the {@link CallObserver}, then closes the wire call.
 *
 * <p>The slot is freed at close, before the status can reach the client, so a client that sends its next call as
 * soon as it has the reply is never refused; {@link GuardedListener} frees it too on cancel and complete, for calls
 * that end without a close. Close may run on an offload worker while the transport reports the cancel on the
 * event loop, so the slot is taken back with one atomic swap: it is freed exactly once.
 */
final class GuardedCall<Q, R> extends ServerCall<Q, R> {
    @SuppressWarnings("rawtypes")
    private static final AtomicReferenceFieldUpdater<GuardedCall, PerCallerLimit.Slot> SLOT =
            AtomicReferenceFieldUpdater.newUpdater(GuardedCall.class, PerCallerLimit.Slot.class, "slot");

    private final ServerCall<RequestGuard.Decoded<Q>, R> call;
    private final MethodDescriptor<Q, R> method;
    private final String methodName;
    private final CallObserver observer;
    private final PerCallerLimit limit;
    private final long startNanos = System.nanoTime();
    private volatile PerCallerLimit.Slot slot;

    GuardedCall(ServerCall<RequestGuard.Decoded<Q>, R> call, MethodDescriptor<Q, R> method, String methodName,
                CallObserver observer, PerCallerLimit limit) {
        this.call = call;
        this.method = method;
        this.methodName = methodName;
        this.observer = observer;
        this.limit = limit;
    }

    /** Takes one of {@code caller}'s slots for this call; false: the caller is at its cap, nothing was taken. */
    boolean acquireSlot(CallerIdentity caller) {
        PerCallerLimit.Slot s = limit.acquire(caller);
        slot = s;
        return s != null;
    }

    /** Frees the call's slot if it still holds one; any later call does nothing. */
    void releaseSlot() {
        if (slot != null) {
            PerCallerLimit.Slot s = SLOT.getAndSet(this, null);
            if (s != null) {
                limit.release(s);
            }
        }
    }

    @Override
    public void close(Status status, Metadata trailers) {
        releaseSlot();
        try {
            observer.onClose(methodName, status.getCode(), Duration.ofNanos(System.nanoTime() - startNanos));
        } catch (RuntimeException e) {
            // an observer failure must never change the caller's answer
        }
        call.close(status, trailers);
    }

    @Override
    public void request(int numMessages) {
        call.request(numMessages);
    }

    @Override
    public void sendHeaders(Metadata headers) {
        call.sendHeaders(headers);
    }

    @Override
    public void sendMessage(R message) {
        call.sendMessage(message);
    }

    @Override
    public boolean isReady() {
        return call.isReady();
    }

    @Override
    public boolean isCancelled() {
        return call.isCancelled();
    }

    @Override
    public void setMessageCompression(boolean enabled) {
        call.setMessageCompression(enabled);
    }

    @Override
    public void setCompression(String compressor) {
        call.setCompression(compressor);
    }

    @Override
    public SecurityLevel getSecurityLevel() {
        return call.getSecurityLevel();
    }

    @Override
    public Attributes getAttributes() {
        return call.getAttributes();
    }

    @Override
    public String getAuthority() {
        return call.getAuthority();
    }

    @Override
    public MethodDescriptor<Q, R> getMethodDescriptor() {
        return method;
    }
}
