package io.vmhandler.net;

import io.vmhandler.nativeio.Fd;
import java.io.IOException;
import java.util.List;

/**
 * Persistent taps inside a target network namespace, given as a path ({@code /proc/<pid>/ns/net} or
 * {@code /var/run/netns/<name>}).
 *
 * <p>Threading: every method blocks until the work in the namespace is done; calls are safe from any
 * thread, because the namespace switch happens on a dedicated worker, never on the caller's thread.
 */
public interface TapDevices {
    /**
     * Creates the tap, or adopts an existing one with the same flags, owner and group (its MTU is then
     * brought to the spec's). A tap that differs is a {@link TapConflictException}; a failed create
     * leaves nothing behind.
     */
    TapResult create(String netnsPath, TapSpec spec) throws IOException;

    /** The differences between the tap in the namespace and the spec; empty means an exact match. */
    List<String> verify(String netnsPath, TapSpec spec) throws IOException;

    /** Deletes the tap. Returns false if there was none. Refuses to delete an interface that is not a tap. */
    boolean delete(String netnsPath, String name) throws IOException;

    /** The tap's current state, or null if there is no interface with that name. */
    TapState inspect(String netnsPath, String name) throws IOException;

    /**
     * The same operations on an already open namespace handle: a netns fd, or a pidfd (setns on a
     * pidfd, Linux 5.8, cannot be redirected by pid reuse). The fd stays owned by the caller.
     */
    TapResult create(Fd netns, TapSpec spec) throws IOException;

    List<String> verify(Fd netns, TapSpec spec) throws IOException;

    boolean delete(Fd netns, String name) throws IOException;

    TapState inspect(Fd netns, String name) throws IOException;

    /**
     * Takes the tap out of use without waiting for the kernel to free it: sets it down and renames it to
     * {@code tombstone}, so its name is free for a new tap at once and nothing in the namespace can bring it up
     * again without CAP_NET_ADMIN. Deleting the tombstone ({@link #delete(Fd, String)}) is left to the caller.
     * Returns false if there was no interface called {@code name}; refuses an interface that is not a tap, and a
     * tombstone name that is taken (EEXIST).
     */
    boolean retire(Fd netns, String name, String tombstone) throws IOException;
}
