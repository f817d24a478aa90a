package io.vmhandler.it;

import io.vmhandler.nativeio.Fd;
import io.vmhandler.net.TapDevices;
import io.vmhandler.net.TapResult;
import io.vmhandler.net.TapSpec;
import io.vmhandler.net.TapState;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The daemon's real tap devices, with one pause: once armed, the next tap <em>created</em> (really,
 * in the caller's netns) holds its PrepareNetwork call on the gRPC thread until the test releases it,
 * so a fault lands between two kernel steps every time instead of by timing luck. Only that one call
 * waits; every other call, before and after, goes straight through, and the netns workers stay free.
 */
final class PausingTaps implements TapDevices {
    private final TapDevices real;
    private final AtomicBoolean armed = new AtomicBoolean();
    private final CountDownLatch paused = new CountDownLatch(1);
    private final CountDownLatch released = new CountDownLatch(1);

    PausingTaps(TapDevices real) {
        this.real = real;
    }

    /** Makes the next successful create pause after the tap is made. */
    void arm() {
        armed.set(true);
    }

    /** Waits until a call is held at the pause; false if none arrived in time. */
    boolean awaitPaused(long seconds) throws InterruptedException {
        return paused.await(seconds, TimeUnit.SECONDS);
    }

    /** Lets the held call go on. */
    void release() {
        released.countDown();
    }

    @Override
    public TapResult create(Fd netns, TapSpec spec) throws IOException {
        TapResult r = real.create(netns, spec);
        if (armed.compareAndSet(true, false)) {
            paused.countDown();
            try {
                // bounded, so a test that fails before releasing cannot hang the daemon's shutdown
                released.await(60, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while paused for fault injection", e);
            }
        }
        return r;
    }

    @Override
    public TapResult create(String netnsPath, TapSpec spec) throws IOException {
        return real.create(netnsPath, spec);
    }

    @Override
    public List<String> verify(String netnsPath, TapSpec spec) throws IOException {
        return real.verify(netnsPath, spec);
    }

    @Override
    public boolean delete(String netnsPath, String name) throws IOException {
        return real.delete(netnsPath, name);
    }

    @Override
    public TapState inspect(String netnsPath, String name) throws IOException {
        return real.inspect(netnsPath, name);
    }

    @Override
    public List<String> verify(Fd netns, TapSpec spec) throws IOException {
        return real.verify(netns, spec);
    }

    @Override
    public boolean delete(Fd netns, String name) throws IOException {
        return real.delete(netns, name);
    }

    @Override
    public TapState inspect(Fd netns, String name) throws IOException {
        return real.inspect(netns, name);
    }
}
