package io.vmhandler.grpc.v1;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Context;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.vmhandler.grpc.CallerIdentity;
import io.vmhandler.grpc.server.ApiPipeline;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The checks every call makes before the backend acts: identity present, deadline not passed, not cancelled. */
class UnaryCallTest {
    private static final CallerIdentity CALLER = new CallerIdentity(10, 1000, 1000);
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    private final AtomicInteger acted = new AtomicInteger();
    private final Recorder out = new Recorder();

    @AfterEach
    void stop() {
        timer.shutdownNow();
    }

    private void call(Context context) {
        context.run(() -> UnaryCall.run("Test", out, caller -> {
            acted.incrementAndGet();
            return caller.toString();
        }));
    }

    @Test
    void actsWithTheCallerFromTheContext() {
        call(Context.current().withValue(ApiPipeline.CALLER_KEY, CALLER)
                .withDeadlineAfter(10, TimeUnit.SECONDS, timer));
        assertThat(out.values).containsExactly("pid 10 uid 1000 gid 1000");
        assertThat(out.completed).isTrue();
    }

    @Test
    void anExpiredDeadlineIsDeadlineExceededAndNothingIsDone() throws Exception {
        Context.CancellableContext ctx = Context.current().withValue(ApiPipeline.CALLER_KEY, CALLER)
                .withDeadlineAfter(1, TimeUnit.MILLISECONDS, timer);
        Thread.sleep(50);
        call(ctx);
        assertThat(acted).hasValue(0);
        assertThat(out.error.getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
    }

    @Test
    void aCancelledCallIsCancelledAndNothingIsDone() {
        Context.CancellableContext ctx = Context.current().withValue(ApiPipeline.CALLER_KEY, CALLER)
                .withCancellation();
        ctx.cancel(null);
        call(ctx);
        assertThat(acted).hasValue(0);
        assertThat(out.error.getCode()).isEqualTo(Status.Code.CANCELLED);
    }

    @Test
    void noKernelIdentityIsUnauthenticatedAndNothingIsDone() {
        call(Context.current());
        assertThat(acted).hasValue(0);
        assertThat(out.error.getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
    }

    private static final class Recorder implements StreamObserver<String> {
        final List<String> values = new ArrayList<>();
        Status error;
        boolean completed;

        @Override
        public void onNext(String value) {
            values.add(value);
        }

        @Override
        public void onError(Throwable t) {
            error = Status.fromThrowable(t);
        }

        @Override
        public void onCompleted() {
            completed = true;
        }
    }
}
