package io.vmhandler.grpc;

import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.function.Consumer;

/**
 * Where the launcher calls run, off the transport's event loop: an {@link Executor} whose threads can also say
 * when they are ready for their next task.
 *
 * <p>Why: a launcher's next call follows the reply to its last one. If the reply goes out while the worker that
 * made it is still on its way back to the idle workers, the next call often finds that worker busy and wakes
 * another, colder one (11-32% of PrepareNetwork's calls in bench-launcher). The daemon's netns workers take the
 * reply through {@link #afterTask}, which runs it once the worker is idle (docs/launcher-perf.md).
 *
 * <p>Concurrency: {@code afterTask} is called from inside a task, on the thread that runs it; the reply then runs
 * on that same thread, never at the same time as the task or as another task of that thread.
 *
 * <p>{@code afterTask} never drops a reply: on a thread that is no worker of this executor, or on an executor
 * without the notion, it runs the reply at once.
 */
public interface CallOffload extends Executor {
    /**
     * Inside a task of this executor: runs {@code reply} on the same thread once the thread is ready for its next
     * task (after the task returns). Elsewhere: runs it now.
     */
    void afterTask(Runnable reply);

    /** An executor with no notion of "ready": the reply runs at once, in the task. */
    static CallOffload of(Executor executor) {
        if (executor instanceof CallOffload offload) {
            return offload;
        }
        return of(executor, Runnable::run);
    }

    /** {@code executor}'s tasks, with {@code afterTask} as the executor's own hook (e.g. NamespaceWorkers::afterTask). */
    static CallOffload of(Executor executor, Consumer<Runnable> afterTask) {
        Objects.requireNonNull(executor, "executor");
        Objects.requireNonNull(afterTask, "afterTask");
        return new CallOffload() {
            @Override
            public void execute(Runnable task) {
                executor.execute(task);
            }

            @Override
            public void afterTask(Runnable reply) {
                afterTask.accept(reply);
            }
        };
    }
}
