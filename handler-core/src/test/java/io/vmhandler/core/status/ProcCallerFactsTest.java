package io.vmhandler.core.status;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vmhandler.grpc.AdminAccess;
import io.vmhandler.grpc.CallerIdentity;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProcCallerFactsTest {
    private static List<String> status(String uid, String gid, String groups) {
        return List.of("Name:\tsleep", "Umask:\t0022", "State:\tS (sleeping)", "Uid:\t" + uid, "Gid:\t" + gid,
                "FDSize:\t64", "Groups:\t" + groups, "NStgid:\t4711");
    }

    private static io.vmhandler.proc.ProcStatus parsed(String uid, String gid, String groups) {
        return io.vmhandler.proc.ProcStatus.parse(String.join("\n", status(uid, gid, groups)), "/proc/77/status");
    }

    @Test
    void effectiveGidAndSupplementaryGroupsAreTheCallersGroups() throws IOException {
        assertThat(ProcCallerFacts.groups(parsed("5000\t5000\t5000\t5000", "100\t4343\t4343\t4343", "27 4343 "), 5000))
                .containsExactlyInAnyOrder(4343, 27);
        assertThat(ProcCallerFacts.groups(parsed("0\t0\t0\t0", "0\t0\t0\t0", ""), 0)).containsExactly(0);
    }

    @Test
    void aPidNowRunAsAnotherUidIsRefused() {
        // SO_PEERCRED said uid 5000 at connect; the pid now belongs to a uid-0 process
        assertThatThrownBy(() -> ProcCallerFacts.groups(parsed("0\t0\t0\t0", "4343\t4343\t4343\t4343", "4343"), 5000))
                .isInstanceOf(IOException.class).hasMessage("its effective uid is no longer the connecting uid 5000");
    }

    @Test
    void readsProcfsAndThePodResolver(@TempDir Path proc) throws IOException {
        Files.createDirectories(proc.resolve("77"));
        Files.write(proc.resolve("77/status"), status("5000\t5000\t5000\t5000", "5000\t5000\t5000\t5000", "4343"));
        AdminAccess.Facts host = new ProcCallerFacts(proc, pid -> Optional.empty(), Optional.empty()).facts(new CallerIdentity(77, 5000, 5000));
        assertThat(host.inPod()).isFalse();
        assertThat(host.groups()).containsExactlyInAnyOrder(5000, 4343);
        assertThat(new ProcCallerFacts(proc, pid -> Optional.of("pod-uid"), Optional.empty())
                .facts(new CallerIdentity(77, 5000, 5000)).inPod()).isTrue();
        // kubectl exec into the daemon's own container is not "in a pod" for this rule
        assertThat(new ProcCallerFacts(proc, pid -> Optional.of("pod-uid"), Optional.of("pod-uid"))
                .facts(new CallerIdentity(77, 5000, 5000)).inPod()).isFalse();
        assertThat(new ProcCallerFacts(proc, pid -> Optional.of("pod-uid"), Optional.of("daemon-pod"))
                .facts(new CallerIdentity(77, 5000, 5000)).inPod()).isTrue();
        assertThatThrownBy(() -> new ProcCallerFacts(proc, pid -> Optional.empty(), Optional.empty()).facts(new CallerIdentity(78, 5000, 5000)))
                .isInstanceOf(IOException.class).hasMessage("the process exited");
    }

    @Test
    void theDaemonsOwnPodIsReadThroughProcSelf(@TempDir Path proc) throws IOException {
        Files.createDirectories(proc.resolve("4711"));
        Files.createSymbolicLink(proc.resolve("self"), Path.of("4711"));
        assertThat(ProcCallerFacts.ownPod(proc, pid -> pid == 4711 ? Optional.of("daemon-pod") : Optional.empty()))
                .contains("daemon-pod");
        assertThat(ProcCallerFacts.ownPod(Path.of("/proc"), pid -> pid == ProcessHandle.current().pid()
                ? Optional.of("this-jvm") : Optional.empty())).contains("this-jvm");
        assertThat(ProcCallerFacts.ownPod(proc.resolve("missing"), pid -> Optional.of("x"))).isEmpty();
    }
}
