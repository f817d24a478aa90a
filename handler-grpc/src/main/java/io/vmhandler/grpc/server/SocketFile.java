package io.vmhandler.grpc.server;

import java.io.IOException;
import java.net.ConnectException;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HexFormat;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Places the launcher API socket file safely. KubeVirt trusted socket placement and had two symlink
 * CVEs (CVE-2025-64437: a symlinked launcher-sock led to a host chown; CVE-2026-7374: a symlinked
 * console socket; docs/anchors.md §6), so:
 *
 * <ol>
 *   <li>The directory is created if missing (mode 0755) and then checked with lstat: it must be a real
 *       directory (a symlink is refused, never followed), owned by the daemon's uid, not writable by
 *       group or others. Its ancestors (resolved) must be owned by root or the daemon and not writable
 *       by others unless sticky (like /tmp), so nobody else can swap the directory out.</li>
 *   <li>Whatever is at the socket path must be a socket that nothing answers on (a stale one); a
 *       regular file, directory, symlink or live socket is refused and left alone.</li>
 *   <li>The server binds a random temporary name in that directory; mode and owner are applied to it;
 *       then rename(2) moves it over the final path atomically, so the path never shows a socket with
 *       the wrong mode or owner, and there is no window where a stale socket was removed but the new one
 *       is not yet there.</li>
 *   <li>On stop, the final path is removed only if it is still our socket (same device and inode).</li>
 * </ol>
 * Not thread-safe: used by one server's start and stop.
 */
final class SocketFile {
    /** Length of the temporary name: "." + 8 hex digits + ".sock.tmp". */
    static final int TEMP_NAME_BYTES = 18;

    private static final Logger log = LoggerFactory.getLogger(SocketFile.class);
    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;
    private static final int S_IFDIR = 0040000;
    private static final int S_ISVTX = 01000;
    private static final int GROUP_OTHER_WRITE = 0022;

    private final ServerOptions options;
    private final Path path;
    private final Path temp;
    private Object published; // fileKey (dev, ino) of the socket we renamed into place

    private SocketFile(ServerOptions options, Path temp) {
        this.options = options;
        this.path = options.socket();
        this.temp = temp;
    }

    /** Checks (and creates) the directory and the socket path; returns where the server must bind. */
    static SocketFile prepare(ServerOptions options) throws IOException {
        Path dir = options.socket().getParent();
        int euid = effectiveUid();
        ensureDirectory(dir, euid);
        checkExisting(options.socket());
        byte[] r = new byte[4];
        ThreadLocalRandom.current().nextBytes(r);
        Path temp = dir.resolve("." + HexFormat.of().formatHex(r) + ".sock.tmp");
        return new SocketFile(options, temp);
    }

    Path tempPath() {
        return temp;
    }

    Path path() {
        return path;
    }

    /** Applies mode and owner to the bound temporary socket, then renames it over the final path. */
    void publish() throws IOException {
        Map<String, Object> a = lstat(temp);
        if (type(a) != S_IFSOCK) {
            throw new IOException("bound socket " + temp + " is not a socket: refused to publish it");
        }
        // chmod follows links; temp was just verified to be our socket in a directory only we can write
        Files.setPosixFilePermissions(temp, permissions(options.mode()));
        // these are lchown(2) calls (NOFOLLOW_LINKS)
        if (options.ownerUid().isPresent()) {
            Files.setAttribute(temp, "unix:uid", options.ownerUid().getAsInt(), LinkOption.NOFOLLOW_LINKS);
        }
        if (options.ownerGid().isPresent()) {
            Files.setAttribute(temp, "unix:gid", options.ownerGid().getAsInt(), LinkOption.NOFOLLOW_LINKS);
        }
        // checked again right before the rename: the path may have been taken since prepare()
        checkExisting(path);
        Files.move(temp, path, StandardCopyOption.ATOMIC_MOVE);
        published = Files.readAttributes(path, java.nio.file.attribute.BasicFileAttributes.class,
                LinkOption.NOFOLLOW_LINKS).fileKey();
        log.atInfo().addKeyValue("socket", path).addKeyValue("mode", "0" + Integer.toOctalString(options.mode()))
                .addKeyValue("uid", lstat(path).get("uid")).addKeyValue("gid", lstat(path).get("gid"))
                .log("launcher API socket in place");
    }

    /** Removes the temporary name if it is still there (start failed before publish). */
    void abandonTemp() {
        try {
            if (Files.exists(temp, LinkOption.NOFOLLOW_LINKS) && type(lstat(temp)) == S_IFSOCK) {
                Files.delete(temp);
            }
        } catch (IOException e) {
            log.atWarn().setCause(e).addKeyValue("socket", temp).log("cannot remove temporary socket");
        }
    }

    /** Removes the socket path if it is still the socket we published; leaves anything else alone. */
    void remove() {
        if (published == null) {
            return;
        }
        try {
            Object now = Files.readAttributes(path, java.nio.file.attribute.BasicFileAttributes.class,
                    LinkOption.NOFOLLOW_LINKS).fileKey();
            if (published.equals(now) && type(lstat(path)) == S_IFSOCK) {
                Files.delete(path);
                log.atInfo().addKeyValue("socket", path).log("launcher API socket removed");
            } else {
                log.atWarn().addKeyValue("socket", path).log("socket path was replaced since start: left alone");
            }
        } catch (NoSuchFileException e) {
            log.atInfo().addKeyValue("socket", path).log("launcher API socket already gone");
        } catch (IOException e) {
            log.atWarn().setCause(e).addKeyValue("socket", path).log("cannot remove launcher API socket");
        }
        published = null;
    }

    private static void ensureDirectory(Path dir, int euid) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            try {
                // mkdir(2) does not follow a symlink at the last component: one planted there fails with EEXIST
                Files.createDirectory(dir);
                Files.setPosixFilePermissions(dir, permissions(0755));
                log.atInfo().addKeyValue("dir", dir).log("created socket directory");
            } catch (java.nio.file.FileAlreadyExistsException raced) {
                // checked below like any existing entry
            }
        }
        Map<String, Object> a = lstat(dir);
        if (Files.isSymbolicLink(dir)) {
            throw new IOException("socket directory " + dir + " is a symbolic link: refused (never followed)");
        }
        if (type(a) != S_IFDIR) {
            throw new IOException("socket directory " + dir + " is not a directory");
        }
        int uid = (Integer) a.get("uid");
        int mode = (Integer) a.get("mode");
        if (uid != euid) {
            throw new IOException("socket directory " + dir + " is owned by uid " + uid + ", must be owned by uid " + euid);
        }
        if ((mode & GROUP_OTHER_WRITE) != 0) {
            throw new IOException("socket directory " + dir + " has mode 0" + Integer.toOctalString(mode & 07777)
                    + ": must not be writable by group or others");
        }
        for (Path p = dir.toRealPath().getParent(); p != null; p = p.getParent()) {
            Map<String, Object> pa = lstat(p);
            int pu = (Integer) pa.get("uid");
            int pm = (Integer) pa.get("mode");
            boolean othersCanSwap = (pm & GROUP_OTHER_WRITE) != 0 && (pm & S_ISVTX) == 0;
            if ((pu != 0 && pu != euid) || othersCanSwap) {
                throw new IOException("socket directory ancestor " + p + " (uid " + pu + ", mode 0"
                        + Integer.toOctalString(pm & 07777) + ") could let another user replace " + dir);
            }
        }
    }

    private static void checkExisting(Path path) throws IOException {
        Map<String, Object> a;
        try {
            a = lstat(path);
        } catch (NoSuchFileException e) {
            return;
        }
        if (Files.isSymbolicLink(path)) {
            throw new IOException(path + " is a symbolic link, not a socket: refused (left alone)");
        }
        if (type(a) != S_IFSOCK) {
            throw new IOException(path + " exists and is not a socket: refused (left alone)");
        }
        SocketChannel probe;
        try {
            probe = SocketChannel.open(UnixDomainSocketAddress.of(path));
        } catch (ConnectException refused) {
            // ECONNREFUSED: nobody listens; the stale socket is replaced by the rename in publish()
            log.atInfo().addKeyValue("socket", path).log("stale socket found: it will be replaced");
            return;
        }
        probe.close();
        throw new IOException(path + " is in use: another server answers on it");
    }

    private static Map<String, Object> lstat(Path p) throws IOException {
        return Files.readAttributes(p, "unix:mode,uid,gid", LinkOption.NOFOLLOW_LINKS);
    }

    private static int type(Map<String, Object> attrs) {
        return (Integer) attrs.get("mode") & S_IFMT;
    }

    private static Set<PosixFilePermission> permissions(int mode) {
        StringBuilder s = new StringBuilder(9);
        String rwx = "rwx";
        for (int bit = 8; bit >= 0; bit--) {
            s.append((mode & (1 << bit)) != 0 ? rwx.charAt(2 - bit % 3) : '-');
        }
        return PosixFilePermissions.fromString(s.toString());
    }

    /**
     * The effective uid, from /proc/self/status ("Uid: real effective saved fs"). The one /proc read
     * outside handler-proc: handler-grpc depends on neither handler-proc nor handler-native (launchers
     * take it alone for LauncherClient), and this is the server's own uid, not another process's.
     * The owner of /proc/self is no substitute: it turns to root when the process is not dumpable
     * (proc(5)), e.g. a daemon started from a binary with file capabilities.
     */
    static int effectiveUid() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("Uid:")) {
                return Integer.parseInt(line.substring(4).trim().split("\\s+")[1]);
            }
        }
        throw new IOException("no Uid line in /proc/self/status");
    }
}
