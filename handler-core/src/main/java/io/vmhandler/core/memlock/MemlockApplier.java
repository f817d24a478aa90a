package io.vmhandler.core.memlock;

import io.vmhandler.memlock.MemlockResult;
import io.vmhandler.core.memlock.MemlockRefusedException.Reason;
import io.vmhandler.nativeio.LinuxConstants;
import io.vmhandler.nativeio.RLimit;
import io.vmhandler.nativeio.SyscallException;
import io.vmhandler.nativeio.Syscalls;
import io.vmhandler.proc.ProcFs;
import io.vmhandler.proc.ProcStatus;
import io.vmhandler.proc.ProcessGoneException;
import io.vmhandler.proc.ProcessRef;
import java.io.IOException;
import java.nio.file.Path;
import jnr.constants.platform.Errno;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sets a process's RLIMIT_MEMLOCK with {@code prlimit(pid, RLIMIT_MEMLOCK)}, soft = hard, the way
 * libvirt's {@code virProcessSetMaxMemLock} does (docs/memlock.md §7.2): soft too, because the kernel
 * enforces the soft limit when pages are pinned, while libvirt compares only the hard one.
 *
 * <p>The limit is in the encoding of {@link MemlockResult#bytes()}: {@code 0} leaves the limit as
 * it is (libvirt computed "no limit"), {@link LinuxConstants#RLIM_INFINITY} sets unlimited. The
 * limit is read back from {@code /proc/PID/limits} and must match. The target is a
 * {@link ProcessRef}, the one pid-reuse guard: alive by its pidfd right before prlimit, and
 * unchanged (one stat read, then the pidfd) right after, so a pid reused meanwhile is reported. A
 * refusal (EPERM) is a {@link MemlockRefusedException} that says whether we lack CAP_SYS_RESOURCE,
 * or the target is a process of another uid, or both.
 *
 * <p>Thread-safe (stateless); every call blocks on a few syscalls and /proc reads. Two calls on the
 * same process at once both call prlimit; the later one's limit stays, and each reads back what it
 * sees, so one of them may report a mismatch.
 */
public final class MemlockApplier implements MemlockLimits {
    private static final Logger log = LoggerFactory.getLogger(MemlockApplier.class);
    /** CAP_SYS_RESOURCE, linux/capability.h. */
    static final int CAP_SYS_RESOURCE = 24;

    private final ProcFs proc;

    public MemlockApplier() {
        this(ProcFs.host());
    }

    public MemlockApplier(Path procRoot) {
        this(new ProcFs(procRoot));
    }

    public MemlockApplier(ProcFs proc) {
        this.proc = proc;
    }

    /**
     * What was done.
     *
     * @param requested the limit asked for (0 = leave as is, RLIM_INFINITY = unlimited)
     * @param before the limit found (prlimit, or /proc/PID/limits where prlimit may not read)
     * @param after the limit read back from /proc/PID/limits
     */
    public record Applied(int pid, long requested, RLimit before, RLimit after) {
        public boolean leftAsIs() {
            return requested == 0;
        }

        public boolean changed() {
            return !before.equals(after);
        }
    }

    /** Pins {@code pid} down with a {@link ProcessRef} and applies the limit to it. */
    @Override
    public Applied apply(int pid, long limit) throws IOException {
        if (pid <= 0) {
            throw new IllegalArgumentException("pid must be a positive process id, got " + pid);
        }
        checkLimit(limit);
        try (ProcessRef target = ProcessRef.open(proc, pid)) {
            return apply(target, limit);
        }
    }

    /**
     * Sets soft = hard = {@code limit} on the target. Reads /proc/PID/stat once (the check after
     * prlimit); the check before is the pidfd alone.
     */
    @Override
    public Applied apply(ProcessRef target, long limit) throws IOException {
        checkLimit(limit);
        int pid = target.pid();
        target.requireAlive();
        RLimit before = current(pid);
        if (limit == 0) {
            log.atInfo().addKeyValue("pid", pid).addKeyValue("limit", before.toString())
                    .log("RLIMIT_MEMLOCK left as is: libvirt sets no limit for this domain");
            return new Applied(pid, 0, before, before);
        }
        try {
            Syscalls.setRlimit(pid, LinuxConstants.RLIMIT_MEMLOCK, RLimit.of(limit));
        } catch (SyscallException e) {
            if (e.errno() == Errno.EPERM) {
                throw refused(pid, limit, before, e);
            }
            throw ProcessGoneException.ifGone(e, pid);
        }
        RLimit after = proc.limits(pid).memlock();
        try {
            target.verifyUnchanged();
        } catch (ProcessGoneException e) {
            throw new ProcessGoneException(pid, "pid " + pid + " exited while RLIMIT_MEMLOCK was being set to "
                    + RLimit.format(limit) + "; if its pid was reused, the new process may have received that limit");
        }
        if (after.soft() != limit || after.hard() != limit) {
            throw new MemlockReadBackException("RLIMIT_MEMLOCK of pid " + pid + " reads back as " + after + " from /proc/" + pid
                    + "/limits, not soft=hard=" + RLimit.format(limit));
        }
        log.atInfo().addKeyValue("pid", pid).addKeyValue("before", before.toString())
                .addKeyValue("after", after.toString()).log("set RLIMIT_MEMLOCK (soft = hard)");
        return new Applied(pid, limit, before, after);
    }

    private static void checkLimit(long limit) {
        if (limit < 0 && limit != LinuxConstants.RLIM_INFINITY) {
            throw new IllegalArgumentException("the limit must be 0 (leave as is), a byte count or unlimited, got " + limit);
        }
    }

    /** prlimit read; reading another uid's limit needs CAP_SYS_RESOURCE, so fall back to /proc. */
    private RLimit current(int pid) throws IOException {
        try {
            return Syscalls.getRlimit(pid, LinuxConstants.RLIMIT_MEMLOCK);
        } catch (SyscallException e) {
            if (e.errno() == Errno.EPERM) {
                return proc.limits(pid).memlock();
            }
            throw ProcessGoneException.ifGone(e, pid);
        }
    }

    /**
     * Says which kernel rule refused: check_prlimit_permission (kernel/sys.c) lets us touch another
     * process only if our real uid/gid equal all its real, effective and saved ids, or with
     * CAP_SYS_RESOURCE; do_prlimit then lets a hard limit rise only with CAP_SYS_RESOURCE.
     */
    private MemlockRefusedException refused(int pid, long limit, RLimit before, SyscallException e) {
        String to = RLimit.format(limit) + (limit == LinuxConstants.RLIM_INFINITY ? "" : " bytes");
        boolean raise = before.hard() != LinuxConstants.RLIM_INFINITY
                && (limit == LinuxConstants.RLIM_INFINITY || Long.compareUnsigned(limit, before.hard()) > 0);
        boolean cap;
        String creds;
        boolean otherUid;
        try {
            cap = (proc.threadSelfStatus().capEff() >>> CAP_SYS_RESOURCE & 1) == 1;
            ProcStatus target = proc.status(pid);
            ProcStatus.Ids tu = target.uids();
            ProcStatus.Ids tg = target.gids();
            ProcStatus self = proc.selfStatus();
            long ou = self.uids().real();
            long og = self.gids().real();
            otherUid = !(tu.allRealEffectiveSaved(ou) && tg.allRealEffectiveSaved(og));
            creds = "it runs as uid " + tu.real() + " (effective " + tu.effective() + ") gid " + tg.real()
                    + ", we run as uid " + ou + " gid " + og;
        } catch (IOException io) {
            return new MemlockRefusedException("setting RLIMIT_MEMLOCK of pid " + pid + " to " + to + " was refused, and"
                    + " its credentials could not be read (" + io.getMessage() + ") [" + e.getMessage() + "]",
                    Reason.OTHER, pid, to, e);
        }
        String hard = "from hard " + RLimit.format(before.hard()) + " to " + to;
        String msg;
        Reason reason;
        if (otherUid && raise && !cap) {
            reason = Reason.OTHER_UID_AND_RAISE;
            msg = "raising RLIMIT_MEMLOCK of pid " + pid + " " + hard + " was refused: it is a process of another uid ("
                    + creds + ") and there is no CAP_SYS_RESOURCE in this process (both need it)";
        } else if (otherUid && !cap) {
            reason = Reason.OTHER_UID;
            msg = "setting RLIMIT_MEMLOCK of pid " + pid + " to " + to + " was refused: it is a process of another uid ("
                    + creds + ") and there is no CAP_SYS_RESOURCE in this process";
        } else if (raise && !cap) {
            reason = Reason.NO_CAP_SYS_RESOURCE;
            msg = "raising RLIMIT_MEMLOCK of pid " + pid + " " + hard + " was refused: no CAP_SYS_RESOURCE in this"
                    + " process (raising a hard limit needs it)";
        } else {
            reason = Reason.OTHER;
            msg = "setting RLIMIT_MEMLOCK of pid " + pid + " to " + to + " was refused although "
                    + (cap ? "this process has CAP_SYS_RESOURCE" : "it is our own uid and no raise")
                    + ": a security module or seccomp policy denied prlimit";
        }
        return new MemlockRefusedException(msg + " [" + e.getMessage() + "]", reason, pid, to, e);
    }
}
