package io.vmhandler.grpc.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.DefaultEventLoop;
import io.netty.channel.EventLoop;
import io.vmhandler.grpc.CallOffload;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@link OncePerLoopTurn} on a real netty event loop (a DefaultEventLoop: one task is one turn). */
class OncePerLoopTurnTest {
    private final EventLoop loop = new DefaultEventLoop();
    private final AtomicInteger handedOff = new AtomicInteger();
    private final List<String> ranHere = Collections.synchronizedList(new ArrayList<>());
    /** Runs every task here when asked, as the daemon's idle workers let it. */
    private final CallOffload always = CallOffload.of(task -> handedOff.incrementAndGet(), Runnable::run, task -> {
        task.run();
        return true;
    });
    private final CallOffload offload = OncePerLoopTurn.limit(always, loop);

    @AfterEach
    void stop() throws Exception {
        loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).get(5, TimeUnit.SECONDS);
    }

    /** Offers {@code calls} calls in one turn of the loop; what each offer answered. */
    private List<Boolean> oneTurn(int calls) throws Exception {
        CompletableFuture<List<Boolean>> answers = new CompletableFuture<>();
        loop.execute(() -> {
            List<Boolean> out = new ArrayList<>();
            for (int i = 0; i < calls; i++) {
                String name = "call " + i;
                out.add(offload.runHere(() -> ranHere.add(name)));
            }
            answers.complete(out);
        });
        return answers.get(5, TimeUnit.SECONDS);
    }

    @Test
    void onlyTheFirstCallOfATurnMayRunHere() throws Exception {
        assertThat(oneTurn(3)).containsExactly(true, false, false);
        assertThat(ranHere).containsExactly("call 0");
    }

    @Test
    void everyTurnMayRunOneHere() throws Exception {
        assertThat(oneTurn(1)).containsExactly(true);
        assertThat(oneTurn(2)).containsExactly(true, false);
        assertThat(oneTurn(1)).containsExactly(true);
        assertThat(ranHere).containsExactly("call 0", "call 0", "call 0");
    }

    @Test
    void noCallRunsHereOffTheLoop() {
        assertThat(offload.runHere(() -> ranHere.add("off the loop"))).isFalse();
        assertThat(ranHere).isEmpty();
    }

    @Test
    void handOffsAndRepliesGoToTheDelegate() {
        offload.execute(() -> { });
        List<String> replies = new ArrayList<>();
        offload.afterTask(() -> replies.add("reply"));
        assertThat(handedOff).hasValue(1);
        assertThat(replies).containsExactly("reply");
    }
}
