package io.vmhandler.core.status;

import io.vmhandler.core.checkpoint.CheckpointStore;
import io.vmhandler.core.directory.VmiDirectory;
import io.vmhandler.core.model.VmiDocument;
import io.vmhandler.grpc.NodeStatus;
import io.vmhandler.grpc.NodeStatusProvider;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The node status from memory: every VMI in the {@link VmiDirectory} (the VMIs scheduled to this
 * node), joined with what the {@link VmiStatusBook} recorded for it, the checkpoint store's health and
 * the {@link WatchTracker}. Creating it subscribes to the directory: a VMI that leaves the node is
 * dropped from the book and counts as a watch event.
 *
 * <p>A snapshot is assembled without a global lock: a launcher call finishing meanwhile may or may
 * not be in it, but each VMI's entry is internally consistent. Thread-safe.
 */
public final class CoreNodeStatusProvider implements NodeStatusProvider {
    private final String node;
    private final String version;
    private final VmiDirectory directory;
    private final VmiStatusBook book;
    private final Supplier<CheckpointStore.Health> checkpoint;
    private final WatchTracker watch;
    private final Clock clock;

    public CoreNodeStatusProvider(String node, String version, VmiDirectory directory, VmiStatusBook book,
                                  Supplier<CheckpointStore.Health> checkpoint, WatchTracker watch, Clock clock) {
        this.node = Objects.requireNonNull(node, "node");
        this.version = Objects.requireNonNull(version, "version");
        this.directory = Objects.requireNonNull(directory, "directory");
        this.book = Objects.requireNonNull(book, "book");
        this.checkpoint = Objects.requireNonNull(checkpoint, "checkpoint");
        this.watch = Objects.requireNonNull(watch, "watch");
        this.clock = Objects.requireNonNull(clock, "clock");
        directory.addListener(key -> {
            watch.event();
            if (directory.get(key).isEmpty()) {
                book.forget(key);
            }
        });
    }

    @Override
    public NodeStatus nodeStatus() {
        List<VmiDocument> docs = new ArrayList<>(directory.all());
        docs.sort(Comparator.comparing(VmiDocument::key));
        List<NodeStatus.Vmi> vmis = new ArrayList<>();
        for (VmiDocument d : docs) {
            Optional<VmiStatusBook.Entry> e = book.get(d.key());
            String pod = e.map(VmiStatusBook.Entry::podUid).filter(p -> !p.isEmpty()).orElseGet(() -> activePod(d));
            vmis.add(new NodeStatus.Vmi(d.namespace(), d.name(), d.uid() == null ? "" : d.uid(), pod,
                    e.map(VmiStatusBook.Entry::taps).orElse(List.of()),
                    e.map(VmiStatusBook.Entry::memlock), e.map(VmiStatusBook.Entry::pinning),
                    e.map(VmiStatusBook.Entry::lastError)));
        }
        CheckpointStore.Health h = checkpoint.get();
        return new NodeStatus(node, version, clock.instant(), vmis,
                new NodeStatus.Checkpoint(h.degraded(), h.degradedReason() == null ? "" : h.degradedReason(),
                        h.pending(), h.corrupt().size()),
                watch.state(), book.lastUnattributed());
    }

    /** The first pod status.activePods places on this node (sorted, so the answer is stable). */
    private String activePod(VmiDocument d) {
        return d.map("status.activePods").entrySet().stream()
                .filter(en -> node.equals(String.valueOf(en.getValue()))).map(Map.Entry::getKey).sorted()
                .findFirst().orElse("");
    }
}
