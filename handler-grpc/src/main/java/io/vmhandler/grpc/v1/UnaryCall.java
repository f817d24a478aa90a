package io.vmhandler.grpc.v1;

import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.vmhandler.grpc.AfterReply;
import io.vmhandler.grpc.CallOffload;
import io.vmhandler.grpc.CallerIdentity;
import io.vmhandler.grpc.server.ApiPipeline;
import io.vmhandler.grpc.server.StatusMapper;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs one unary call the same way for every method: take the caller from the Context (never from the
 * request), refuse to act if the deadline has passed or the caller cancelled, run the body, and turn any
 * failure into a status through {@link StatusMapper}. Public for the other API packages served on the
 * same socket (vmhandler.admin.v1).
 *
 * <p>Threads: the server runs its services on the transport's event loop (directExecutor), so {@link #run}
 * is for bodies that never block (Info); a body that blocks (every launcher call: /proc, setns, netlink) goes
 * through {@link #offload}, the call's one thread hand-off.
 *
 * <p>A retry of a call still in flight is a second call: both run (PodCallGate in the daemon orders a pod's calls).
 */
public final class UnaryCall {
    private static final Logger log = LoggerFactory.getLogger(UnaryCall.class);

    private UnaryCall() {}

    /**
     * Runs the call on {@code offload}, in the call's gRPC Context (the caller identity, the deadline and the
     * cancellation travel with it). A refused hand-off (the daemon is stopping) answers UNAVAILABLE, which a
     * launcher retries. The reply goes out through {@link CallOffload#afterTask}, once the thread that ran the call
     * is ready for the next one.
     */
    public static <R> void offload(CallOffload offload, String method, StreamObserver<R> out,
                                   Function<CallerIdentity, R> body) {
        Runnable call = Context.current().wrap(() -> run(method, out, body, offload::afterTask));
        try {
            offload.execute(call);
        } catch (RejectedExecutionException e) {
            log.atInfo().addKeyValue("method", method).log("call refused: the daemon is stopping");
            out.onError(Status.UNAVAILABLE.withDescription("the daemon is stopping; retry").asRuntimeException());
        }
    }

    /** Runs the call on this thread and replies from it at once (Info, on the event loop). */
    public static <R> void run(String method, StreamObserver<R> out, Function<CallerIdentity, R> body) {
        run(method, out, body, Runnable::run);
    }

    /**
     * Checks, runs the body and hands the reply (value, or error status) to {@code reply}, which runs it now or
     * later on this same thread: the checks and the body are done when this returns, the reply may not be.
     */
    private static <R> void run(String method, StreamObserver<R> out, Function<CallerIdentity, R> body,
                                Consumer<Runnable> reply) {
        CallerIdentity caller = ApiPipeline.CALLER_KEY.get();
        if (caller == null) {
            // the service was registered without the ApiPipeline: never act without a kernel identity
            reply.accept(() -> out.onError(Status.UNAUTHENTICATED
                    .withDescription("no SO_PEERCRED credentials for this call").asRuntimeException()));
            return;
        }
        Status gone = gone(Context.current());
        if (gone != null) {
            log.atInfo().addKeyValue("method", method).addKeyValue("caller", caller).addKeyValue("code", gone.getCode())
                    .log("call not acted on: the caller's deadline passed or it cancelled");
            reply.accept(() -> out.onError(gone.asRuntimeException()));
            return;
        }
        long start = System.nanoTime();
        R result;
        // what the body hands to AfterReply (Release's tap deletions) starts once the reply below is on its way
        AfterReply.Scope deferred = AfterReply.open();
        try {
            result = body.apply(caller);
        } catch (RuntimeException | Error e) {
            deferred.close();
            Status failed = StatusMapper.toStatus(e, method, caller);
            reply.accept(deferred.after(() -> out.onError(failed.asRuntimeException())));
            if (e instanceof VirtualMachineError fatal) {
                throw fatal; // the caller has its INTERNAL; the JVM still has to see this one
            }
            return;
        } finally {
            deferred.close(); // idempotent: the catch closed it already, before its reply
        }
        long micros = TimeUnit.NANOSECONDS.toMicros(System.nanoTime() - start);
        if (gone(Context.current()) != null) {
            // the step was done (and is idempotent), but the reply cannot reach the caller any more
            log.atInfo().addKeyValue("method", method).addKeyValue("caller", caller).addKeyValue("micros", micros)
                    .log("call completed after the caller's deadline or cancellation: reply dropped");
        }
        reply.accept(deferred.after(() -> {
            try {
                out.onNext(result);
                out.onCompleted();
            } catch (StatusRuntimeException e) {
                log.atDebug().addKeyValue("method", method).addKeyValue("caller", caller)
                        .log("reply not delivered: call already closed");
                return;
            }
            log.atDebug().addKeyValue("method", method).addKeyValue("caller", caller).addKeyValue("micros", micros)
                    .log("call done");
        }));
    }

    /** DEADLINE_EXCEEDED or CANCELLED when the call's Context is done, else null. */
    private static Status gone(Context context) {
        if (!context.isCancelled()) {
            Deadline d = context.getDeadline();
            return d != null && d.isExpired() ? Status.DEADLINE_EXCEEDED.withDescription("deadline expired before the daemon acted") : null;
        }
        Deadline d = context.getDeadline();
        return d != null && d.isExpired()
                ? Status.DEADLINE_EXCEEDED.withDescription("deadline expired before the daemon acted")
                : Status.CANCELLED.withDescription("call cancelled before the daemon acted");
    }
}
