package io.vmhandler.it;

import io.vmhandler.nativeio.Fd;
import io.vmhandler.net.TapDevices;
import io.vmhandler.net.TapResult;
import io.vmhandler.net.TapSpec;
import io.vmhandler.net.TapState;
import java.io.IOException;
import java.util.List;

/**
 * The daemon's real tap devices, with two pauses ({@link Hold}): once armed, the next tap <em>created</em>
 * (really, in the caller's netns) holds its PrepareNetwork call on the gRPC thread, and the next tap
 * <em>deleted</em> holds its Release call, until the test releases it, so a fault lands between two kernel
 * steps every time instead of by timing luck. Only that one call waits; every other call, before and after,
 * goes straight through, and the netns workers stay free.
 */
final class PausingTaps implements TapDevices {
    private final TapDevices real;
    /** After a tap was made. */
    final Hold afterCreate = new Hold();
    /** After a tap was deleted. */
    final Hold afterDelete = new Hold();
    /** Before the background deleter deletes a tap by its ifindex ({@link #deleteAt}). */
    final Hold beforeDeleteAt = new Hold();
    private volatile boolean holdDeletes;

    PausingTaps(TapDevices real) {
        this.real = real;
    }

    /** Makes the next successful create pause after the tap is made. */
    void arm() {
        afterCreate.arm();
    }

    /** Waits until a create is held at the pause; false if none arrived in time. */
    boolean awaitPaused(long seconds) throws InterruptedException {
        return afterCreate.awaitPaused(seconds);
    }

    /** Lets the held create go on. */
    void release() {
        afterCreate.release();
    }

    @Override
    public TapResult create(Fd netns, TapSpec spec) throws IOException {
        TapResult r = real.create(netns, spec);
        afterCreate.pause();
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

    /**
     * From now on every delete waits (up to ten minutes) before the kernel step: a daemon whose background
     * deletions are held this way can be killed between Release's answer and the deletion (TapReaperIT).
     */
    void holdEveryDelete() {
        holdDeletes = true;
    }

    private void holdIfAsked() throws IOException {
        if (holdDeletes) {
            try {
                Thread.sleep(java.time.Duration.ofMinutes(10).toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while holding a tap deletion", e);
            }
        }
    }

    @Override
    public boolean delete(Fd netns, String name) throws IOException {
        holdIfAsked();
        boolean deleted = real.delete(netns, name);
        afterDelete.pause();
        return deleted;
    }

    @Override
    public TapState inspect(Fd netns, String name) throws IOException {
        return real.inspect(netns, name);
    }

    @Override
    public java.util.Map<String, Integer> indexes(Fd netns, java.util.Collection<String> names) throws IOException {
        return real.indexes(netns, names);
    }

    @Override
    public AtIndex checkAt(Fd netns, int ifindex, String name) throws IOException {
        return real.checkAt(netns, ifindex, name);
    }

    /** The background deleter's deletion: held like {@link #delete(Fd, String)}. */
    @Override
    public AtIndex deleteAt(Fd netns, int ifindex, String name) throws IOException {
        holdIfAsked();
        beforeDeleteAt.pause();
        AtIndex found = real.deleteAt(netns, ifindex, name);
        afterDelete.pause();
        return found;
    }
}
