package io.vmhandler.core.launcher;

import io.vmhandler.nativeio.Fd;
import io.vmhandler.net.TapConflictException;
import io.vmhandler.net.TapDevices;
import io.vmhandler.net.TapResult;
import io.vmhandler.net.TapSpec;
import io.vmhandler.net.TapState;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@link TapDevices} in memory: one flat namespace of taps (the fd is ignored), with the real class's
 * create-or-adopt and conflict rules, a log of every create and delete, and a hook that runs before
 * each create (to kill a caller or fail mid-call). Thread-safe (synchronized).
 */
final class FakeTapDevices implements TapDevices {
    /** Runs before a create; may throw. */
    @FunctionalInterface
    interface Hook {
        void beforeCreate(TapSpec spec) throws IOException;
    }

    static final int POD_MTU = 1500;

    private final Map<String, TapState> taps = new LinkedHashMap<>();
    /** Name → ifindex of each tap, handed out like the kernel's: cyclic, never reused here. */
    private final Map<String, Integer> indexes = new LinkedHashMap<>();
    private int nextIndex = 2;
    private final List<String> indexLookups = new ArrayList<>();
    private final List<String> log = new ArrayList<>();
    private Hook hook = spec -> { };
    private DeleteHook deleteHook = name -> { };

    /** Runs before a delete, outside the lock (so a delete held here does not stop other calls); may throw. */
    @FunctionalInterface
    interface DeleteHook {
        void beforeDelete(String name) throws IOException;
    }

    synchronized void onDelete(DeleteHook h) {
        this.deleteHook = h;
    }

    synchronized void onCreate(Hook h) {
        this.hook = h;
    }

    synchronized Map<String, TapState> taps() {
        return new LinkedHashMap<>(taps);
    }

    /** "create tap0", "delete tap0", ..., in order. */
    synchronized List<String> log() {
        return List.copyOf(log);
    }

    private final List<String> createCalls = new ArrayList<>();

    /** Each create as "NAME EXPECT mtu=MTU" ({@code null}: the pod's), hint and MTU as the caller passed them. */
    synchronized List<String> createCalls() {
        return List.copyOf(createCalls);
    }

    @Override
    public synchronized TapResult create(Fd netns, TapSpec spec, Expect expect) throws IOException {
        createCalls.add(spec.name() + " " + expect + " mtu=" + spec.mtu());
        return create(netns, spec);
    }

    @Override
    public synchronized TapResult create(Fd netns, TapSpec spec) throws IOException {
        hook.beforeCreate(spec);
        int mtu = spec.mtu() == null ? POD_MTU : spec.mtu();
        TapState want = new TapState(spec.name(), spec.multiQueue(), true, false, true, spec.uid(), spec.gid(), mtu, 0);
        TapState have = taps.get(spec.name());
        if (have != null) {
            List<String> d = differences(have, want);
            if (!d.isEmpty()) {
                throw new TapConflictException(spec.name(), "fake netns", d);
            }
            return new TapResult(TapResult.Outcome.ADOPTED, spec.queues(), have);
        }
        taps.put(spec.name(), want);
        indexes.put(spec.name(), nextIndex++);
        log.add("create " + spec.name() + " queues=" + spec.queues());
        return new TapResult(TapResult.Outcome.CREATED, spec.queues(), want);
    }

    private static List<String> differences(TapState have, TapState want) {
        List<String> d = new ArrayList<>();
        if (have.multiQueue() != want.multiQueue()) {
            d.add("multi_queue: want " + want.multiQueue() + ", found " + have.multiQueue());
        }
        if (have.owner() != want.owner()) {
            d.add("owner: want " + want.owner() + ", found " + have.owner());
        }
        if (have.group() != want.group()) {
            d.add("group: want " + want.group() + ", found " + have.group());
        }
        return d;
    }

    @Override
    public synchronized List<String> verify(Fd netns, TapSpec spec) {
        TapState have = taps.get(spec.name());
        return have == null ? List.of("absent") : differences(have, new TapState(spec.name(), spec.multiQueue(), true,
                false, true, spec.uid(), spec.gid(), 0, 0));
    }

    @Override
    public boolean delete(Fd netns, String name) throws IOException {
        DeleteHook h;
        synchronized (this) {
            h = deleteHook;
        }
        h.beforeDelete(name);
        return deleteNow(name);
    }

    private synchronized boolean deleteNow(String name) {
        if (taps.remove(name) == null) {
            return false;
        }
        indexes.remove(name);
        log.add("delete " + name);
        return true;
    }

    /** The ifindex of the tap called {@code name}, or null. */
    synchronized Integer index(String name) {
        return indexes.get(name);
    }

    /** Puts a link that is not a tap at {@code ifindex} (as if the index had passed to another device). */
    synchronized void otherDeviceAt(String name, int ifindex) {
        indexes.put(name, ifindex);
    }

    /** Every name {@link #indexes} was asked for, in order. */
    synchronized List<String> indexLookups() {
        return List.copyOf(indexLookups);
    }

    @Override
    public synchronized Map<String, Integer> indexes(Fd netns, java.util.Collection<String> names) {
        Map<String, Integer> out = new LinkedHashMap<>();
        for (String n : names) {
            indexLookups.add(n);
            if (indexes.containsKey(n)) {
                out.put(n, indexes.get(n));
            }
        }
        return out;
    }

    @Override
    public synchronized AtIndex checkAt(Fd netns, int ifindex, String name) {
        String at = null;
        for (Map.Entry<String, Integer> e : indexes.entrySet()) {
            if (e.getValue() == ifindex) {
                at = e.getKey();
            }
        }
        if (at == null) {
            return AtIndex.GONE;
        }
        return at.equals(name) && taps.containsKey(at) ? AtIndex.THE_TAP : AtIndex.OTHER_DEVICE;
    }

    /** Runs the delete hook, then deletes only the tap of that name at that index ({@link #checkAt}). */
    @Override
    public AtIndex deleteAt(Fd netns, int ifindex, String name) throws IOException {
        DeleteHook h;
        synchronized (this) {
            h = deleteHook;
        }
        h.beforeDelete(name);
        synchronized (this) {
            AtIndex found = checkAt(netns, ifindex, name);
            if (found == AtIndex.THE_TAP) {
                deleteNow(name);
            }
            return found;
        }
    }

    @Override
    public synchronized TapState inspect(Fd netns, String name) {
        return taps.get(name);
    }

    @Override
    public TapResult create(String netnsPath, TapSpec spec) throws IOException {
        return create((Fd) null, spec);
    }

    @Override
    public List<String> verify(String netnsPath, TapSpec spec) {
        return verify((Fd) null, spec);
    }

    @Override
    public boolean delete(String netnsPath, String name) throws IOException {
        return delete((Fd) null, name);
    }

    @Override
    public TapState inspect(String netnsPath, String name) {
        return inspect((Fd) null, name);
    }
}
