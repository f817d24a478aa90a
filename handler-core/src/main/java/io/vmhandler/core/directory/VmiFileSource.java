package io.vmhandler.core.directory;

import io.vmhandler.core.model.VmiDocument;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Standalone mode's stand-in for the API server: VMI YAML/JSON files in a directory
 * ({@code run --vmi-dir DIR}). A poll picks up added, changed and removed files; polling, not inotify,
 * so it works on every filesystem and in a ConfigMap mount (whose files are symlink swaps).
 * An unreadable or invalid file is reported once per change and skipped; it never stops the daemon.
 */
public final class VmiFileSource implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(VmiFileSource.class);

    private record Seen(long mtime, long size, String key) {}

    private final Path dir;
    private final VmiDirectory directory;
    private final Map<Path, Seen> seen = new HashMap<>();
    private ScheduledExecutorService poller;

    public VmiFileSource(Path dir, VmiDirectory directory) {
        this.dir = dir;
        this.directory = directory;
    }

    /** Loads every file once, synchronously, then polls every {@code periodMillis}. */
    public void start(long periodMillis) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException("--vmi-dir " + dir + " is not a directory");
        }
        scan();
        poller = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "vmi-dir-poll");
            t.setDaemon(true);
            return t;
        });
        poller.scheduleWithFixedDelay(() -> {
            try {
                scan();
            } catch (Exception e) {
                log.atWarn().addKeyValue("dir", dir.toString()).log("scan of {} failed: {}", dir, e.getMessage());
            }
        }, periodMillis, periodMillis, TimeUnit.MILLISECONDS);
    }

    /** One pass: applies every change since the last pass. Synchronized so tests can call it directly. */
    public synchronized void scan() throws IOException {
        Set<Path> present = new HashSet<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*.{yaml,yml,json}")) {
            for (Path f : files) {
                BasicFileAttributes a;
                try {
                    a = Files.readAttributes(f, BasicFileAttributes.class);
                } catch (IOException e) {
                    continue; // raced with a delete
                }
                if (!a.isRegularFile()) {
                    continue;
                }
                present.add(f);
                Seen before = seen.get(f);
                long mtime = a.lastModifiedTime().toMillis();
                if (before != null && before.mtime() == mtime && before.size() == a.size()) {
                    continue;
                }
                String key = load(f);
                if (before != null && before.key() != null && !before.key().equals(key)) {
                    directory.remove(before.key());
                }
                seen.put(f, new Seen(mtime, a.size(), key));
            }
        }
        for (Path gone : new HashSet<>(seen.keySet())) {
            if (!present.contains(gone)) {
                Seen s = seen.remove(gone);
                if (s.key() != null) {
                    directory.remove(s.key());
                    log.atInfo().addKeyValue("vmi", s.key()).log("VMI file {} removed", gone.getFileName());
                }
            }
        }
    }

    private String load(Path f) {
        try {
            VmiDocument vmi = VmiDocument.read(f);
            directory.put(vmi);
            log.atInfo().addKeyValue("vmi", vmi.key()).log("loaded VMI from {}", f.getFileName());
            return vmi.key();
        } catch (IOException | RuntimeException e) {
            log.atError().addKeyValue("file", f.toString()).log("skipping VMI file {}: {}", f, e.getMessage());
            return null;
        }
    }

    @Override
    public void close() {
        if (poller != null) {
            poller.shutdownNow();
        }
    }
}
