package io.vmhandler.it;

import java.io.IOException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One pause for fault injection: once armed, the next {@link #pause()} holds its thread (a daemon call,
 * between two real kernel steps) until the test releases it. Only that one call waits; every other one goes
 * straight through. Bounded, so a test that fails before releasing cannot hang the daemon's shutdown.
 */
final class Hold {
    private final AtomicBoolean armed = new AtomicBoolean();
    private final CountDownLatch paused = new CountDownLatch(1);
    private final CountDownLatch released = new CountDownLatch(1);

    /** Makes the next {@link #pause()} hold. */
    void arm() {
        armed.set(true);
    }

    /** Waits until a call is held; false if none arrived in time. */
    boolean awaitPaused(long seconds) throws InterruptedException {
        return paused.await(seconds, TimeUnit.SECONDS);
    }

    /** Lets the held call go on. */
    void release() {
        released.countDown();
    }

    /** Called by the decorated step: holds here if armed, else returns at once. */
    void pause() throws IOException {
        if (armed.compareAndSet(true, false)) {
            paused.countDown();
            try {
                released.await(60, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while paused for fault injection", e);
            }
        }
    }
}
