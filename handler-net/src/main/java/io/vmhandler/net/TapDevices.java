package io.vmhandler.net;

import io.vmhandler.nativeio.Fd;
import io.vmhandler.nativeio.NetNamespace;
import java.io.IOException;
import java.util.Collection;
import java.util.List;
import java.util.Map;

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

    /**
     * What a caller of {@link #create(Fd, TapSpec, Expect)} expects to find. It orders the work and never decides
     * the outcome: either way an existing tap is adopted or refused and an absent one made, as {@link #create}.
     */
    enum Expect {
        /** The tap may well be there (a launcher's retry, the first tap of a call): look before making it. */
        EXISTING,
        /**
         * The tap is most likely absent (the further taps of a call whose first tap was just created): make it
         * without a look first; a tap that is there after all turns up in the attempt and is then looked at.
         */
        ABSENT
    }

    /**
     * {@link #create(Fd, TapSpec)} with a hint of what the caller expects; the result is the same for either hint.
     * This default, for implementations with nothing to save (the fakes), ignores the hint.
     */
    default TapResult create(Fd netns, TapSpec spec, Expect expect) throws IOException {
        return create(netns, spec);
    }

    /** Takes each tap {@link #createAll} made or adopted, with its index in the specs, as soon as it is done. */
    @FunctionalInterface
    interface EachTap {
        void done(int index, TapResult result) throws IOException;
    }

    /**
     * Creates or adopts one pod's taps in order, as {@link #create(Fd, TapSpec, Expect)} does each; meant to run
     * inside one {@link #within} entry. A pod's taps are made and released together, so the first tap looks before
     * it makes anything ({@link Expect#EXISTING}) and each tap after one just created is most likely absent too
     * ({@link Expect#ABSENT}); after an adopt the next looks again. A spec with no MTU after the first takes the MTU
     * the first tap got (the pod's, read in this same entry) instead of reading the links again. {@code each} gets
     * every result as soon as it is done, so a failure midway leaves the caller knowing what was made; the failure
     * is thrown as it came.
     */
    default void createAll(Fd netns, List<TapSpec> specs, EachTap each) throws IOException {
        Expect expect = Expect.EXISTING;
        Integer podMtu = null;
        for (int i = 0; i < specs.size(); i++) {
            TapSpec spec = specs.get(i);
            TapResult r = create(netns, spec.mtu() == null && podMtu != null ? spec.withMtu(podMtu) : spec, expect);
            each.done(i, r);
            if (spec.mtu() == null && podMtu == null) {
                podMtu = r.state().mtu();
            }
            expect = r.outcome() == TapResult.Outcome.CREATED ? Expect.ABSENT : Expect.EXISTING;
        }
    }

    List<String> verify(Fd netns, TapSpec spec) throws IOException;

    boolean delete(Fd netns, String name) throws IOException;

    TapState inspect(Fd netns, String name) throws IOException;

    /**
     * Runs {@code task} with the work of this interface on {@code netns} gathered in one namespace entry: the calls
     * made inside it with the same fd object need no setns of their own and share one netlink socket. A task that
     * throws leaves the namespace the same way. This default, for implementations with no namespace of their own
     * (the fakes), just runs it.
     */
    default <T> T within(Fd netns, NetNamespace.Task<T> task) throws IOException {
        return task.call();
    }

    /** What is at an ifindex, as {@link #checkAt} and {@link #deleteAt} found it. */
    enum AtIndex {
        /** The tap of the expected name ({@link #deleteAt}: and it was deleted). */
        THE_TAP,
        /** No link has the index (ENODEV): deleted already. */
        GONE,
        /** A link that is not the expected tap (another name, or not a tap): left alone. */
        OTHER_DEVICE
    }

    /**
     * The ifindex of each of {@code names} that a link in the namespace has, in the order of {@code names}; a name
     * no link has is left out. Meant for a path that must not wait for RTNL: an implementation looks the names up
     * without taking it (the ioctl implementation uses SIOCGIFINDEX, which the kernel answers under RCU only).
     */
    Map<String, Integer> indexes(Fd netns, Collection<String> names) throws IOException;

    /** Whether the link at {@code ifindex} is the tap called {@code name}, and nothing else. */
    AtIndex checkAt(Fd netns, int ifindex, String name) throws IOException;

    /**
     * Deletes the link at {@code ifindex} if it is the tap called {@code name}: {@link AtIndex#THE_TAP} when it did,
     * {@link AtIndex#GONE} when no link has the index (also when it went between the look and the deletion), and
     * {@link AtIndex#OTHER_DEVICE}, deleting nothing, when the link there is not that tap.
     */
    AtIndex deleteAt(Fd netns, int ifindex, String name) throws IOException;
}
