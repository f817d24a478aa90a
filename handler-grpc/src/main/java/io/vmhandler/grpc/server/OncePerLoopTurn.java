package io.vmhandler.grpc.server;

import io.netty.channel.EventLoop;
import io.vmhandler.grpc.CallOffload;
import java.util.Objects;

/**
 * Lets at most one call per turn of the server's event loop run on that loop ({@link CallOffload#runHere}); the
 * others read in the same turn are handed off. {@link #limit} puts it in front of a {@link CallOffload}.
 *
 * <p>Why: the daemon's executor lets a call run on the event loop while its netns workers are idle, and a call run
 * there leaves them idle. Without a limit, a server with many callers therefore ran every such call on its one event
 * loop, one after the other: PrepareNetwork at 16 callers took x2.49-2.65 the direct echo's p50 against x1.92-1.99
 * when each call was handed off (bin/bench-launcher, docs/launcher-perf.md, eighth session). With calls from several
 * connections (or several streams of one) read in one turn, the first may run here and the rest go to the workers,
 * which then count as busy, so the following turns hand off too until they are idle again; a lone caller's call is
 * the only one of its turn and always may run here.
 *
 * <p>A turn: the event loop reads every connection that is ready, then runs its queued tasks; the flag is reset by
 * such a task, queued when it is set (from the event loop itself, so netty queues it without waking anything).
 *
 * <p>Thread-safety: {@link #runHere} is meant for the event loop and answers false on any other thread; its state is
 * that thread's only. Hand-offs and replies go to the delegate unchanged, from any thread.
 */
final class OncePerLoopTurn {
    private final CallOffload delegate;
    private final EventLoop loop;
    private final Runnable endOfTurn = () -> this.usedThisTurn = false;
    /** Set once a call of this turn was offered to run here; read and written on the event loop only. */
    private boolean usedThisTurn;

    private OncePerLoopTurn(CallOffload delegate, EventLoop loop) {
        this.delegate = Objects.requireNonNull(delegate, "delegate");
        this.loop = Objects.requireNonNull(loop, "loop");
    }

    /** {@code delegate}, with its {@code runHere} asked only for the first call of each of {@code loop}'s turns. */
    static CallOffload limit(CallOffload delegate, EventLoop loop) {
        OncePerLoopTurn turn = new OncePerLoopTurn(delegate, loop);
        return CallOffload.of(delegate, delegate::afterTask, turn::runHere);
    }

    private boolean runHere(Runnable task) {
        if (!loop.inEventLoop() || usedThisTurn) {
            return false;
        }
        usedThisTurn = true;
        loop.execute(endOfTurn);
        return delegate.runHere(task);
    }
}
