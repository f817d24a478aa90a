package io.vmhandler.net;

import io.vmhandler.nativeio.Fd;
import java.io.IOException;

/**
 * Bandwidth limits on a tap inside a target network namespace, given as a path
 * ({@code /proc/<pid>/ns/net}, {@code /var/run/netns/<name>}) or an open netns fd / pidfd that stays
 * owned by the caller, like {@link TapDevices}.
 *
 * <p>Only taps, and the ifb devices made for them, are ever touched: a name that is not a tap is
 * refused before any write. The spec is validated before anything is written, and every write is read
 * back from the kernel and compared.
 *
 * <p>Threading: every method blocks until the work in the namespace is done; calls are safe from any
 * thread. Calls on one instance are serialized (each is a few netlink round trips), so of two applies
 * for the same tap the later one wins and each returns what its own call installed. A change made by
 * another process (a {@code tc} run) between our write and our read-back is reported as a mismatch,
 * never hidden.
 */
public interface TapQos {
    /**
     * Makes the tap's limits equal {@code spec}: installs, changes or removes our qdiscs; does nothing
     * when they already match (idempotent). Returns the state read back from the kernel.
     */
    QosState apply(String netnsPath, String tap, QosSpec spec) throws IOException;

    /** The tap's limits as the kernel reports them, or null if there is no interface of that name. */
    QosState read(String netnsPath, String tap) throws IOException;

    /** Removes our limits from the tap; returns false if there were none. */
    boolean remove(String netnsPath, String tap) throws IOException;

    QosState apply(Fd netns, String tap, QosSpec spec) throws IOException;

    QosState read(Fd netns, String tap) throws IOException;

    boolean remove(Fd netns, String tap) throws IOException;

    /**
     * {@link #remove(Fd, String)} for a tap whose ifindex the caller read in the same namespace entry ({@link
     * TapResult#ifindex()}, {@link TapDevices#within}): the look for limits of ours goes by the index, and the tap's
     * name is looked up (and proven to be that tap) only when there is something to remove, so a tap without limits
     * costs one netlink exchange instead of two. An index of 0 means unknown and takes the by-name path.
     */
    default boolean remove(Fd netns, String tap, int ifindex) throws IOException {
        return remove(netns, tap);
    }
}
