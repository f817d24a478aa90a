package io.vmhandler.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Context;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.vmhandler.grpc.server.ApiPipeline;
import io.vmhandler.grpc.v1.UnaryCall;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * Work a call's body gives to {@link AfterReply} runs after the call's reply, on the thread that replies, whatever the
 * body's outcome; outside a call it runs at once. The offload here runs the call inline and keeps the reply (what
 * the daemon's netns workers do until they are idle), so each step can be looked at in turn.
 */
class AfterReplyTest {
    private static final CallerIdentity CALLER = new CallerIdentity(10, 1000, 1000);

    private final List<String> events = new CopyOnWriteArrayList<>();
    private final List<Runnable> replies = new ArrayList<>();
    private final CallOffload inlineKeepingTheReply = CallOffload.of(Runnable::run, replies::add);

    private void offload(Function<CallerIdentity, String> body) {
        Context.current().withValue(ApiPipeline.CALLER_KEY, CALLER)
                .run(() -> UnaryCall.offload(inlineKeepingTheReply, "Test", new Recorder(), body));
    }

    @Test
    void workDeferredByTheBodyRunsAfterTheReplyOnTheReplyingThread() {
        List<Thread> ranOn = new ArrayList<>();
        offload(caller -> {
            AfterReply.INSTANCE.execute(() -> {
                ranOn.add(Thread.currentThread());
                events.add("deferred 1");
            });
            AfterReply.INSTANCE.execute(() -> events.add("deferred 2"));
            events.add("body");
            return "ok";
        });
        // the body has returned, the reply is still held: nothing deferred has run
        assertThat(events).containsExactly("body");
        assertThat(replies).hasSize(1);

        Thread replying = new Thread(replies.get(0));
        replying.start();
        join(replying);
        assertThat(events).containsExactly("body", "next ok", "completed", "deferred 1", "deferred 2");
        assertThat(ranOn).containsExactly(replying);
    }

    @Test
    void workDeferredByABodyThatFailedRunsAfterTheErrorReply() {
        offload(caller -> {
            AfterReply.INSTANCE.execute(() -> events.add("deferred"));
            throw LauncherException.conflict("no");
        });
        assertThat(events).isEmpty();
        replies.get(0).run();
        assertThat(events).containsExactly("error FAILED_PRECONDITION", "deferred");
    }

    @Test
    void aDeferredTaskThatThrowsDoesNotStopTheOnesAfterIt() {
        offload(caller -> {
            AfterReply.INSTANCE.execute(() -> {
                throw new IllegalStateException("first fails");
            });
            AfterReply.INSTANCE.execute(() -> events.add("second"));
            return "ok";
        });
        replies.get(0).run();
        assertThat(events).containsExactly("next ok", "completed", "second");
    }

    @Test
    void outsideACallWorkRunsAtOnceAlsoOnTheThreadThatJustRanOne() {
        AfterReply.INSTANCE.execute(() -> events.add("now"));
        assertThat(events).containsExactly("now");

        offload(caller -> "ok");
        // the body's scope closed when it returned: this thread defers nothing any more
        AfterReply.INSTANCE.execute(() -> events.add("after the call"));
        assertThat(events).containsExactly("now", "after the call");
    }

    @Test
    void aScopeOpenedInsideAnotherGivesTheOuterOneBackWhenItCloses() {
        AfterReply.Scope outer = AfterReply.open();
        AfterReply.INSTANCE.execute(() -> events.add("outer"));
        AfterReply.Scope inner = AfterReply.open();
        AfterReply.INSTANCE.execute(() -> events.add("inner"));
        inner.close();
        AfterReply.INSTANCE.execute(() -> events.add("outer again"));
        outer.close();
        assertThat(events).isEmpty();

        inner.after(() -> events.add("inner reply")).run();
        outer.after(() -> events.add("outer reply")).run();
        assertThat(events).containsExactly("inner reply", "inner", "outer reply", "outer", "outer again");
    }

    private static void join(Thread t) {
        try {
            t.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    private final class Recorder implements StreamObserver<String> {
        @Override
        public void onNext(String value) {
            events.add("next " + value);
        }

        @Override
        public void onError(Throwable t) {
            events.add("error " + Status.fromThrowable(t).getCode());
        }

        @Override
        public void onCompleted() {
            events.add("completed");
        }
    }
}
