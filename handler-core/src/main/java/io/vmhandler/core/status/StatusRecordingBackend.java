package io.vmhandler.core.status;

import io.grpc.Status;
import io.vmhandler.core.directory.VmiDirectory;
import io.vmhandler.core.launcher.PodResolver;
import io.vmhandler.grpc.CallerIdentity;
import io.vmhandler.grpc.DevicesResult;
import io.vmhandler.grpc.LauncherBackend;
import io.vmhandler.grpc.MemlockResult;
import io.vmhandler.grpc.PinResult;
import io.vmhandler.grpc.ReleaseResult;
import io.vmhandler.grpc.TapResult;
import io.vmhandler.grpc.server.StatusMapper;
import java.io.IOException;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The launcher backend with every failed call recorded in the {@link VmiStatusBook}: method, the gRPC
 * code and description the launcher got ({@link StatusMapper#preview}, the same mapping the server
 * applies), time and caller. The failure itself is rethrown unchanged, so the launcher's reply and
 * the log are exactly what they were without this decorator.
 *
 * <p>Which VMI a failure belongs to is looked up again from the kernel facts (pid → pod cgroup → the
 * VMI whose activePods holds the pod), because a failed call reports no context. A caller in no pod,
 * or in a pod no VMI claims, is recorded as the node's last unattributed error. This lookup runs only
 * on failures, on the failing call's worker thread. If the caller exited and its pid was reused before
 * the lookup, the error may be shown on the successor's VMI or unattributed; it never changes what
 * the daemon does. Thread-safe; adds no locking of its own.
 */
public final class StatusRecordingBackend implements LauncherBackend {
    private static final Logger log = LoggerFactory.getLogger(StatusRecordingBackend.class);

    /** Caller → the VMI key and pod UID it acts for, if any. */
    @FunctionalInterface
    public interface Attribution {
        Optional<Target> of(CallerIdentity caller) throws IOException;
    }

    public record Target(String vmiKey, String podUid) {}

    private final LauncherBackend delegate;
    private final VmiStatusBook book;
    private final Attribution attribution;

    public StatusRecordingBackend(LauncherBackend delegate, VmiStatusBook book, Attribution attribution) {
        this.delegate = Objects.requireNonNull(delegate, "delegate");
        this.book = Objects.requireNonNull(book, "book");
        this.attribution = Objects.requireNonNull(attribution, "attribution");
    }

    /** The production attribution: the pod from the caller's cgroup, the VMI from the directory. */
    public static Attribution byPod(PodResolver pods, VmiDirectory directory) {
        return caller -> pods.podUid(caller.pid()).flatMap(pod -> directory.byPodUid(pod)
                .map(vmi -> new Target(vmi.key(), pod)));
    }

    @Override
    public List<TapResult> prepareNetwork(CallerIdentity caller) {
        return recorded("PrepareNetwork", caller, () -> delegate.prepareNetwork(caller));
    }

    @Override
    public MemlockResult setMemoryLock(CallerIdentity caller, int pid, Optional<String> libvirtVersion) {
        return recorded("SetMemoryLock", caller, () -> delegate.setMemoryLock(caller, pid, libvirtVersion));
    }

    @Override
    public PinResult pinVcpus(CallerIdentity caller, int qemuPid) {
        return recorded("PinVcpus", caller, () -> delegate.pinVcpus(caller, qemuPid));
    }

    @Override
    public ReleaseResult release(CallerIdentity caller) {
        return recorded("Release", caller, () -> delegate.release(caller));
    }

    @Override
    public ReleaseResult releaseInterface(CallerIdentity caller, String interfaceName) {
        return recorded("ReleaseInterface", caller, () -> delegate.releaseInterface(caller, interfaceName));
    }

    @Override
    public DevicesResult prepareDevices(CallerIdentity caller) {
        return recorded("PrepareDevices", caller, () -> delegate.prepareDevices(caller));
    }

    private <T> T recorded(String method, CallerIdentity caller, Supplier<T> call) {
        try {
            return call.get();
        } catch (RuntimeException e) {
            record(method, caller, e);
            throw e;
        }
    }

    private void record(String method, CallerIdentity caller, RuntimeException failure) {
        Status s = StatusMapper.preview(failure);
        String code = s.getCode().name();
        String message = s.getDescription() == null ? "" : s.getDescription();
        Optional<Target> target;
        try {
            target = attribution.of(caller);
        } catch (IOException | RuntimeException e) {
            log.atDebug().addKeyValue("caller", caller).addKeyValue("reason", e.getMessage())
                    .log("failed call not attributed to a VMI");
            target = Optional.empty();
        }
        if (target.isPresent()) {
            book.callFailed(target.get().vmiKey(), target.get().podUid(), method, code, message, caller.toString());
        } else {
            book.unattributedFailure(method, code, message, caller.toString());
        }
    }
}
