package io.vmhandler.core.status;

import io.vmhandler.proc.ProcFs;
import io.vmhandler.proc.ProcStatus;
import io.vmhandler.proc.ProcessGoneException;

import io.vmhandler.core.launcher.PodResolver;
import io.vmhandler.grpc.AdminAccess;
import io.vmhandler.grpc.CallerIdentity;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link AdminAccess.CallerFacts} from procfs and the pod cgroup: the caller's effective gid and
 * supplementary groups from the {@code Gid:} and {@code Groups:} lines of /proc/PID/status (proc(5)),
 * and whether it is in a pod other than the daemon's own from its cgroup ({@link PodResolver}). The
 * daemon's own pod is exempt because {@code kubectl exec} into the daemon's privileged container is how
 * an operator reaches {@code vmhandler status} on a cluster node, and whoever may exec there already
 * controls the node.
 *
 * <p>SO_PEERCRED was taken at connect(2), this read happens at call time: if the effective uid in
 * /proc/PID/status is not the SO_PEERCRED uid, the pid now belongs to another process (or the caller
 * changed its identity) and the facts are refused, so a reused pid never lends its groups. Both
 * reads are of the same status file, so uid and groups come from one snapshot. Stateless; thread-safe.
 */
public final class ProcCallerFacts implements AdminAccess.CallerFacts {
    private static final Logger log = LoggerFactory.getLogger(ProcCallerFacts.class);

    private final Path procRoot;
    private final PodResolver pods;
    private final Optional<String> ownPod;

    /** @param ownPod the UID of the pod the daemon runs in, if any (see {@link #ownPod}) */
    public ProcCallerFacts(Path procRoot, PodResolver pods, Optional<String> ownPod) {
        this.procRoot = procRoot;
        this.pods = pods;
        this.ownPod = Objects.requireNonNull(ownPod, "ownPod");
    }

    /**
     * The pod of the process reading {@code procRoot}: {@code procRoot/self} names this process in that
     * procfs's pid namespace (proc(5)), which is the numbering {@link PodResolver} reads. When it cannot
     * be read the answer is "no pod": the rule is then only stricter (no exemption), and the daemon
     * still starts.
     */
    public static Optional<String> ownPod(Path procRoot, PodResolver pods) {
        try {
            int self = Integer.parseInt(Files.readSymbolicLink(procRoot.resolve("self")).getFileName().toString());
            return pods.podUid(self);
        } catch (IOException | RuntimeException e) {
            log.atWarn().addKeyValue("procRoot", procRoot.toString()).addKeyValue("reason", e.toString())
                    .log("cannot tell the daemon's own pod: node status is refused to every process in a pod");
            return Optional.empty();
        }
    }

    @Override
    public AdminAccess.Facts facts(CallerIdentity caller) throws IOException {
        ProcStatus status;
        try {
            status = new ProcFs(procRoot).status(caller.pid());
        } catch (ProcessGoneException e) {
            throw new IOException("the process exited");
        }
        Set<Integer> groups = groups(status, caller.uid());
        Optional<String> pod = pods.podUid(caller.pid());
        boolean inPod = pod.isPresent() && !pod.equals(ownPod);
        return new AdminAccess.Facts(inPod, groups);
    }

    /**
     * The effective gid and supplementary groups of a /proc/PID/status, after checking that its effective uid
     * (second field of {@code Uid:}: real, effective, saved, filesystem) is {@code uid}.
     */
    static Set<Integer> groups(ProcStatus status, int uid) throws IOException {
        if (status.uids().effective() != Integer.toUnsignedLong(uid)) {
            throw new IOException("its effective uid is no longer the connecting uid " + Integer.toUnsignedString(uid));
        }
        Set<Integer> groups = new HashSet<>();
        groups.add((int) status.gids().effective());
        for (long g : status.groups()) {
            groups.add((int) g);
        }
        return groups;
    }
}
