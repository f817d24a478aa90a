package io.vmhandler.core.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The store on a real directory of the test's own (no root needed). */
class CheckpointStoreTest {
    private static final String UID_A = "6a1a8f0e-2f5b-4c1e-9d7a-1b2c3d4e5f60";
    private static final String UID_B = "0b9c2e4d-7a61-4f00-8e3b-aa11bb22cc33";

    @TempDir
    Path tmp;

    private static CheckpointRecord taps(String uid, String value) {
        return CheckpointRecord.of(uid, Map.of("taps", value, "netns", "/proc/4242/ns/net", "memlock.bytes", "2181038080"));
    }

    @Test
    void createsTheDirectory0700AndFiles0600AndReadsBackAfterReopen() throws Exception {
        Path dir = tmp.resolve("state/checkpoints");
        try (CheckpointStore s = CheckpointStore.open(dir)) {
            assertThat(s.put(taps(UID_A, "tap0,tap1"))).isTrue();
            assertThat(s.put(taps(UID_B, "tap0"))).isTrue();
            assertThat(s.health().degraded()).isFalse();
        }
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir))).isEqualTo("rwx------");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve(UID_A + ".json"))))
                .isEqualTo("rw-------");
        try (CheckpointStore s = CheckpointStore.open(dir)) {
            assertThat(s.list()).extracting(CheckpointRecord::uid).containsExactly(UID_B, UID_A);
            assertThat(s.get(UID_A).orElseThrow().get("taps")).contains("tap0,tap1");
            assertThat(s.get(UID_A).orElseThrow().fields()).containsEntry("netns", "/proc/4242/ns/net");
        }
    }

    @Test
    void putReplacesTheFileByRenameAndLeavesNoTempFile() throws Exception {
        Path dir = tmp.resolve("cp");
        try (CheckpointStore s = CheckpointStore.open(dir)) {
            s.put(taps(UID_A, "tap0"));
            Object inode1 = Files.getAttribute(dir.resolve(UID_A + ".json"), "unix:ino");
            s.put(taps(UID_A, "tap0,tap1"));
            Object inode2 = Files.getAttribute(dir.resolve(UID_A + ".json"), "unix:ino");
            assertThat(inode2).as("a new file renamed over the old one, not an in-place rewrite").isNotEqualTo(inode1);
            try (Stream<Path> files = Files.list(dir)) {
                assertThat(files.map(p -> p.getFileName().toString())).containsExactly(UID_A + ".json");
            }
            assertThat(Files.readString(dir.resolve(UID_A + ".json"))).startsWith("{\"format\":\"vmhandler-checkpoint/1\"")
                    .contains("\"taps\":\"tap0,tap1\"").contains("\"sha256\":\"");
        }
    }

    @Test
    void aConcurrentReaderOnlyEverSeesWholeRecords() throws Exception {
        Path dir = tmp.resolve("cp");
        Path file = dir.resolve(UID_A + ".json");
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger reads = new AtomicInteger();
        AtomicReference<String> bad = new AtomicReference<>();
        try (CheckpointStore s = CheckpointStore.open(dir)) {
            s.put(taps(UID_A, "v0"));
            Thread reader = new Thread(() -> {
                while (!stop.get()) {
                    try {
                        CheckpointCodec.decode(Files.readAllBytes(file), UID_A);
                        reads.incrementAndGet();
                    } catch (Exception e) {
                        bad.compareAndSet(null, e.toString());
                    }
                }
            });
            reader.start();
            String big = "x".repeat(4000);
            for (int i = 0; i < 300; i++) {
                s.put(CheckpointRecord.of(UID_A, Map.of("v", Integer.toString(i), "pad", big)));
            }
            stop.set(true);
            reader.join();
        }
        assertThat(bad.get()).isNull();
        assertThat(reads.get()).isPositive();
    }

    @Test
    void aRecordWrittenWithoutFsyncIsStillReplacedByRenameAndReadBackAfterReopen() throws Exception {
        Path dir = tmp.resolve("cp");
        String uid = "tap-reap." + UID_A;
        try (CheckpointStore s = CheckpointStore.open(dir)) {
            s.withoutFsync("tap-reap.");
            assertThat(s.put(taps(uid, "tap0"))).isTrue();
            Object inode1 = Files.getAttribute(dir.resolve(uid + ".json"), "unix:ino");
            assertThat(s.put(taps(uid, "tap0,tap1"))).isTrue();
            assertThat(Files.getAttribute(dir.resolve(uid + ".json"), "unix:ino")).isNotEqualTo(inode1);
            assertThat(s.put(taps(UID_B, "tap0"))).as("other records as before").isTrue();
        }
        try (CheckpointStore s = CheckpointStore.open(dir)) {
            assertThat(s.get(uid).orElseThrow().get("taps")).contains("tap0,tap1");
            assertThat(s.remove(uid)).isTrue();
        }
        assertThat(dir.resolve(uid + ".json")).doesNotExist();
        assertThat(dir.resolve(UID_B + ".json")).exists();
    }

    @Test
    void aPutWithoutFsyncIsWrittenByRenameAndReadBackAfterReopenAndTheNextPutIsDurableAgain() throws Exception {
        Path dir = tmp.resolve("cp");
        try (CheckpointStore s = CheckpointStore.open(dir)) {
            assertThat(s.put(taps(UID_A, "tap0"))).isTrue();
            Object inode1 = Files.getAttribute(dir.resolve(UID_A + ".json"), "unix:ino");
            assertThat(s.putWithoutFsync(taps(UID_A, "tap0,tap1"))).isTrue();
            assertThat(Files.getAttribute(dir.resolve(UID_A + ".json"), "unix:ino")).isNotEqualTo(inode1);
            assertThat(s.putWithoutFsync(taps(UID_A, "tap0,tap1"))).as("unchanged: nothing written").isTrue();
            assertThat(s.put(taps(UID_A, "tap2"))).isTrue();
        }
        try (CheckpointStore s = CheckpointStore.open(dir)) {
            assertThat(s.get(UID_A).orElseThrow().get("taps")).contains("tap2");
        }
    }

    @Test
    void removeDeletesTheFile() throws Exception {
        Path dir = tmp.resolve("cp");
        try (CheckpointStore s = CheckpointStore.open(dir)) {
            s.put(taps(UID_A, "tap0"));
            assertThat(s.remove(UID_A)).isTrue();
            assertThat(s.remove(UID_A)).as("already gone is fine").isTrue();
            assertThat(s.get(UID_A)).isEmpty();
        }
        assertThat(dir.resolve(UID_A + ".json")).doesNotExist();
    }

    @Test
    void corruptTornAndForeignFilesAreReportedAndIgnored() throws Exception {
        Path dir = tmp.resolve("cp");
        try (CheckpointStore s = CheckpointStore.open(dir)) {
            s.put(taps(UID_A, "tap0"));
            s.put(taps(UID_B, "tap9"));
        }
        String good = Files.readString(dir.resolve(UID_B + ".json"));
        Files.writeString(dir.resolve(UID_B + ".json"), good.substring(0, good.length() / 2)); // torn
        Files.writeString(dir.resolve("c1.json"), good.replace(UID_B, "c1")); // renamed inside: digest breaks
        Files.writeString(dir.resolve("c2.json"), good); // a copy under another VMI's name
        Files.writeString(dir.resolve("c3.json"), "\u0000\u0000\u0000");
        Files.writeString(dir.resolve("c4.json"), "[1,2]");
        Files.write(dir.resolve("c5.json"), new byte[0]);
        Files.createSymbolicLink(dir.resolve("c6.json"), dir.resolve(UID_A + ".json"));
        Files.writeString(dir.resolve("notes.txt"), "x");
        Files.writeString(dir.resolve("bad uid.json"), good);
        Files.writeString(dir.resolve(".tmp-" + UID_A + ".json-1234"), "partial");

        try (CheckpointStore s = CheckpointStore.open(dir)) {
            assertThat(s.list()).extracting(CheckpointRecord::uid).containsExactly(UID_A);
            CheckpointStore.Health h = s.health();
            assertThat(h.degraded()).isFalse();
            assertThat(h.corrupt()).hasSize(9).anySatisfy(c -> assertThat(c).startsWith(UID_B + ".json: not valid JSON"))
                    .anySatisfy(c -> assertThat(c).isEqualTo("c1.json: sha256 does not match the content"))
                    .anySatisfy(c -> assertThat(c).isEqualTo("c2.json: uid " + UID_B + " does not match the file name c2"))
                    .anySatisfy(c -> assertThat(c).isEqualTo("c4.json: not a JSON object"))
                    .anySatisfy(c -> assertThat(c).isEqualTo("c5.json: not a JSON object"))
                    .anySatisfy(c -> assertThat(c).startsWith("c3.json: not valid JSON"))
                    .anySatisfy(c -> assertThat(c).isEqualTo("notes.txt: not a regular *.json file"))
                    .anySatisfy(c -> assertThat(c).isEqualTo("c6.json: not a regular *.json file"))
                    .anySatisfy(c -> assertThat(c).startsWith("bad uid.json: checkpoint uid must match"));
            assertThat(s.corruptFiles()).isEqualTo(9);
            assertThat(dir.resolve(".tmp-" + UID_A + ".json-1234")).as("crash leftovers are removed").doesNotExist();
            assertThat(s.put(taps(UID_B, "tap9"))).as("a corrupt file is replaced by the next put").isTrue();
        }
    }

    @Test
    void anEditedValueFailsTheDigest() throws Exception {
        Path dir = tmp.resolve("cp");
        try (CheckpointStore s = CheckpointStore.open(dir)) {
            s.put(taps(UID_A, "tap0"));
        }
        Path f = dir.resolve(UID_A + ".json");
        Files.writeString(f, Files.readString(f).replace("tap0", "tap7"));
        try (CheckpointStore s = CheckpointStore.open(dir)) {
            assertThat(s.list()).isEmpty();
            assertThat(s.health().corrupt()).containsExactly(UID_A + ".json: sha256 does not match the content");
        }
    }

    @Test
    void aSymlinkedDirectoryIsRefusedAndItsTargetUntouched() throws Exception {
        Path target = Files.createDirectory(tmp.resolve("elsewhere"));
        Path link = Files.createSymbolicLink(tmp.resolve("cp"), target);
        assertThatThrownBy(() -> CheckpointStore.open(link)).isInstanceOf(RefusedDirectoryException.class)
                .hasMessage(link + " is a symlink; the checkpoint directory must be a real directory");
        try (Stream<Path> files = Files.list(target)) {
            assertThat(files).isEmpty();
        }
        assertThat(Files.isSymbolicLink(link)).isTrue();
    }

    @Test
    void aFileInThePlaceOfTheDirectoryIsRefused() throws Exception {
        Path f = Files.writeString(tmp.resolve("cp"), "x");
        assertThatThrownBy(() -> CheckpointStore.open(f)).isInstanceOf(RefusedDirectoryException.class)
                .hasMessage(f + " exists and is not a directory");
    }

    @Test
    void aLooseModeIsTightenedTo0700() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("cp"));
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwxrwx"));
        CheckpointStore.open(dir).close();
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir, LinkOption.NOFOLLOW_LINKS)))
                .isEqualTo("rwx------");
    }

    @Test
    void badUidsAndFieldsNameTheLimit() throws Exception {
        assertThatThrownBy(() -> CheckpointRecord.empty("../etc/passwd")).hasMessageContaining("checkpoint uid must match");
        assertThatThrownBy(() -> CheckpointRecord.empty(".hidden")).hasMessageContaining("checkpoint uid must match");
        assertThatThrownBy(() -> CheckpointRecord.of(UID_A, Map.of("k", "v".repeat(5000))))
                .hasMessage("checkpoint field k: value must be non-null and <= 4096 chars");
        try (CheckpointStore s = CheckpointStore.open(tmp.resolve("cp"))) {
            assertThatThrownBy(() -> s.get("a/b")).hasMessageContaining("checkpoint uid must match");
        }
    }

    @Test
    void recordsAreImmutableValues() {
        CheckpointRecord r = CheckpointRecord.empty(UID_A).with("b", "2").with("a", "1");
        assertThat(r.fields().keySet()).containsExactly("a", "b");
        assertThat(r.without("a").fields()).containsOnlyKeys("b");
        assertThat(r.fields()).containsOnlyKeys("a", "b");
        assertThatThrownBy(() -> r.fields().put("c", "3")).isInstanceOf(UnsupportedOperationException.class);
        assertThat(CheckpointCodec.encode(r)).isEqualTo(CheckpointCodec.encode(CheckpointRecord.of(UID_A, Map.of("a", "1", "b", "2"))));
        assertThat(new String(CheckpointCodec.encode(r), StandardCharsets.UTF_8)).endsWith("}\n");
    }

    @Test
    void unicodeAndEscapesRoundTrip() throws Exception {
        CheckpointRecord r = CheckpointRecord.of(UID_A, Map.of("note", "quote\" back\\slash\nnewline\ttab \u00e9\u4e2d \u0001"));
        assertThat(CheckpointCodec.decode(CheckpointCodec.encode(r), UID_A)).isEqualTo(r);
    }

    @Test
    void aSymlinkSwappedInAfterOpenDoesNotRedirectWrites() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("cp"));
        Path elsewhere = Files.createDirectory(tmp.resolve("elsewhere"));
        try (CheckpointStore s = CheckpointStore.open(dir)) {
            Path moved = tmp.resolve("cp-moved");
            Files.move(dir, moved);
            Files.createSymbolicLink(dir, elsewhere);
            assertThat(s.put(taps(UID_A, "tap0"))).isTrue();
            assertThat(moved.resolve(UID_A + ".json")).as("written through the held directory fd").exists();
            try (Stream<Path> files = Files.list(elsewhere)) {
                assertThat(files).isEmpty();
            }
        }
    }

    @Test
    void anUnchangedRecordIsNotWrittenAgain() throws Exception {
        Path dir = tmp.resolve("cp");
        try (CheckpointStore s = CheckpointStore.open(dir)) {
            s.put(taps(UID_A, "tap0"));
            Object inode1 = Files.getAttribute(dir.resolve(UID_A + ".json"), "unix:ino");
            assertThat(s.put(taps(UID_A, "tap0"))).isTrue();
            assertThat(Files.getAttribute(dir.resolve(UID_A + ".json"), "unix:ino")).isEqualTo(inode1);
            s.put(taps(UID_A, "tap1"));
            assertThat(Files.getAttribute(dir.resolve(UID_A + ".json"), "unix:ino")).isNotEqualTo(inode1);
        }
    }

    /**
     * The replacement of an existing record is an exchange and an unlink (ext4 starts writing back the data of a
     * file renamed over another at once, CheckpointDir's comment): only an exchange hands an unlink to the disposal
     * executor, so its count says which path ran, and the directory holds the new content only, whether the write
     * was durable or not.
     */
    @Test
    void anExistingRecordIsReplacedByExchangeAndANewOneByRenameLeavingNoTempFile() throws Exception {
        Path dir = tmp.resolve("cp");
        AtomicInteger exchanges = new AtomicInteger();
        try (CheckpointStore s = CheckpointStore.open(dir)) {
            s.disposeReplacedWith(unlink -> {
                exchanges.incrementAndGet();
                unlink.run();
            });
            s.put(taps(UID_A, "tap0"));
            assertThat(exchanges).as("a new record has nothing to exchange with").hasValue(0);
            s.putWithoutFsync(taps(UID_A, "tap0,tap1"));
            s.put(taps(UID_A, "tap0,tap1,tap2"));
            assertThat(exchanges).hasValue(2);
            s.put(taps(UID_B, "tap9"));
            assertThat(exchanges).hasValue(2);
            try (Stream<Path> files = Files.list(dir)) {
                assertThat(files.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder(UID_A + ".json",
                        UID_B + ".json");
            }
        }
        try (CheckpointStore s = CheckpointStore.open(dir)) {
            assertThat(s.get(UID_A).orElseThrow().get("taps")).contains("tap0,tap1,tap2");
            assertThat(s.get(UID_B).orElseThrow().get("taps")).contains("tap9");
        }
    }


    /** The directory's second fd (for renameat2) must be the stream's own directory, or the open is refused. */
    @Test
    void aSecondOpenThatMeetsAnotherDirectoryIsRefused() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("cp"));
        Path other = Files.createDirectory(tmp.resolve("other"));
        try (var stream = (java.nio.file.SecureDirectoryStream<Path>) Files.newDirectoryStream(dir)) {
            assertThatThrownBy(() -> CheckpointDir.sameDirectoryFd(other, stream))
                    .isInstanceOf(RefusedDirectoryException.class)
                    .hasMessageContaining(other + " was replaced while it was being opened");
            CheckpointDir.sameDirectoryFd(dir, stream).close();
        }
    }


    /**
     * The old content of a replaced record goes to the disposal executor (the daemon's runs it after the call's
     * reply): until it runs, a temp file holds it beside the new record, which readers already get; a store reopened
     * before it ran removes the leftover.
     */
    @Test
    void theReplacedContentIsUnlinkedByTheDisposalExecutorAndALeftoverGoesAtTheNextOpen() throws Exception {
        Path dir = tmp.resolve("cp");
        java.util.List<Runnable> deferred = new java.util.ArrayList<>();
        try (CheckpointStore s = CheckpointStore.open(dir)) {
            s.disposeReplacedWith(deferred::add);
            s.put(taps(UID_A, "tap0"));
            assertThat(deferred).as("a new record replaces nothing").isEmpty();
            s.putWithoutFsync(taps(UID_A, "tap0,tap1"));
            assertThat(deferred).hasSize(1);
            try (Stream<Path> files = Files.list(dir)) {
                assertThat(files.map(p -> p.getFileName().toString())).hasSize(2).contains(UID_A + ".json")
                        .anyMatch(n -> n.startsWith(".tmp-" + UID_A + ".json-"));
            }
            assertThat(Files.readString(dir.resolve(UID_A + ".json"))).contains("tap0,tap1");
            deferred.remove(0).run();
            try (Stream<Path> files = Files.list(dir)) {
                assertThat(files.map(p -> p.getFileName().toString())).containsExactly(UID_A + ".json");
            }
            s.put(taps(UID_A, "tap2"));
            assertThat(deferred).hasSize(1);
        }
        deferred.remove(0).run(); // after close: nothing to do, and no error
        try (CheckpointStore s = CheckpointStore.open(dir)) {
            assertThat(s.get(UID_A).orElseThrow().get("taps")).contains("tap2");
        }
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactly(UID_A + ".json");
        }
    }

}
