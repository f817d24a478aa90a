package io.vmhandler.core.checkpoint;

import io.vmhandler.nativeio.Fd;
import io.vmhandler.nativeio.LinuxConstants;
import io.vmhandler.nativeio.SyscallException;
import io.vmhandler.nativeio.Syscalls;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.ClosedDirectoryStreamException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.SecureDirectoryStream;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.ThreadLocalRandom;
import jnr.constants.platform.Errno;

/**
 * The checkpoint directory, held open as a directory fd ({@link SecureDirectoryStream}): the
 * directory itself is opened with O_NOFOLLOW from its parent, and every file operation after
 * that is relative to the fd (openat/renameat/unlinkat with O_NOFOLLOW), so a symlink swapped in
 * later cannot redirect our writes. Files are replaced atomically: write a temp file in the same
 * directory, fsync it, rename over the target, fsync the directory (rename(2) is atomic within a
 * filesystem; the directory fsync makes the rename itself durable, fsync(2) NOTES).
 *
 * <p>The rename over an existing record is an exchange (renameat2 RENAME_EXCHANGE): the temp name then holds the
 * old record, and its unlink is handed to {@link #disposeWith the disposal executor} (the daemon's is the launcher
 * call's after-reply work). Readers see the old record or the new one, never none, as with rename. Measured here
 * (ext4, strace -T, ReleaseBench): a rename over a record costs 0.3-0.5 ms, because the kernel frees the old
 * inode's blocks inside it (0.39 ms when that record had just been fsynced) and, on ext4, starts the writeback of
 * the new file's data at once (its {@code auto_da_alloc} safeguard for programs that skip fsync, ext4(5)); the
 * exchange costs 0.03 ms and leaves the freeing to the unlink, outside the call's reply. A record not on disk yet,
 * or a filesystem without RENAME_EXCHANGE (EINVAL), gets the plain rename. A death before the unlink leaves a temp
 * file, which {@link #removeTempFiles} deletes at the next start.
 *
 * <p>Not thread-safe: {@link CheckpointStore} serializes access. Every method blocks on disk I/O.
 */
final class CheckpointDir implements Closeable {
    static final String SUFFIX = ".json";
    private static final String TMP_PREFIX = ".tmp-";
    private static final Set<PosixFilePermission> DIR_MODE = PosixFilePermissions.fromString("rwx------");
    private static final Set<PosixFilePermission> FILE_MODE = PosixFilePermissions.fromString("rw-------");

    private final Path path;
    private final SecureDirectoryStream<Path> dir;
    /** The same directory as {@link #dir} (checked at open), for what NIO lacks: renameat2. */
    private final Fd fd;
    /** Set once renameat2 answered EINVAL: this filesystem cannot exchange, so every replacement is a rename. */
    private volatile boolean noExchange;
    /** Runs the unlink of a replaced record's old content (see the class comment); at once by default. */
    private volatile Executor disposal = Runnable::run;

    private CheckpointDir(Path path, SecureDirectoryStream<Path> dir, Fd fd) {
        this.path = path;
        this.dir = dir;
        this.fd = fd;
    }

    /**
     * Creates {@code path} (mode 0700) if missing and opens it without following a symlink in its
     * last component. Symlinks in the parents are followed (e.g. /var/run to /run).
     *
     * @throws RefusedDirectoryException when the path is a symlink, not a directory, or owned by
     *     another user: using it would let someone else steer privileged state
     * @throws IOException when it cannot be created or opened (read-only, missing parent)
     */
    static CheckpointDir open(Path path) throws IOException {
        Path abs = path.toAbsolutePath().normalize();
        Path parent = abs.getParent();
        if (parent == null) {
            throw new RefusedDirectoryException(abs + ": the checkpoint directory cannot be the root directory");
        }
        Path name = abs.getFileName();
        Files.createDirectories(parent);
        try {
            Files.createDirectory(abs, PosixFilePermissions.asFileAttribute(DIR_MODE));
        } catch (FileAlreadyExistsException e) {
            // checked below through the fd: it must be our own real directory
        }
        DirectoryStream<Path> ps = Files.newDirectoryStream(parent);
        try {
            if (!(ps instanceof SecureDirectoryStream<Path> sp)) {
                throw new IOException("this platform has no SecureDirectoryStream (openat); refusing " + abs);
            }
            BasicFileAttributes lst = sp.getFileAttributeView(name, PosixFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
                    .readAttributes();
            if (lst.isSymbolicLink()) {
                throw new RefusedDirectoryException(abs + " is a symlink; the checkpoint directory must be a real directory");
            }
            if (!lst.isDirectory()) {
                throw new RefusedDirectoryException(abs + " exists and is not a directory");
            }
            SecureDirectoryStream<Path> d;
            try {
                d = sp.newDirectoryStream(name, LinkOption.NOFOLLOW_LINKS);
            } catch (FileSystemException e) {
                // ELOOP: it was swapped for a symlink between the check and the open
                throw new RefusedDirectoryException(abs + " could not be opened without following a symlink: " + e.getReason());
            }
            CheckpointDir cd;
            try {
                cd = new CheckpointDir(abs, d, sameDirectoryFd(abs, d));
            } catch (IOException | RuntimeException e) {
                d.close();
                throw e;
            }
            try {
                cd.checkOwnerAndMode();
            } catch (IOException | RuntimeException e) {
                cd.close();
                throw e;
            }
            return cd;
        } finally {
            ps.close();
        }
    }

    /**
     * A second fd of the directory {@code d} holds, opened by path without following a symlink in its last
     * component, and refused unless it is the very same directory (file keys: st_dev and st_ino; the fd's through
     * its /proc/self/fd magic link, which resolves to the open file itself): a directory swapped in between the two
     * opens must not receive writes that the stream's checks never saw.
     */
    static Fd sameDirectoryFd(Path abs, SecureDirectoryStream<Path> d) throws IOException {
        Fd fd;
        try {
            fd = Syscalls.open(abs.toString(), LinuxConstants.O_RDONLY | LinuxConstants.O_DIRECTORY
                    | LinuxConstants.O_NOFOLLOW);
        } catch (SyscallException e) {
            throw new RefusedDirectoryException(abs + " could not be opened a second time as the same directory: "
                    + e.getMessage());
        }
        try {
            Object mine = Files.readAttributes(Path.of("/proc/self/fd/" + fd.intValue()), BasicFileAttributes.class)
                    .fileKey();
            Object held = d.getFileAttributeView(PosixFileAttributeView.class).readAttributes().fileKey();
            if (mine == null || !mine.equals(held)) {
                throw new RefusedDirectoryException(abs + " was replaced while it was being opened (" + held
                        + " first, " + mine + " then)");
            }
            return fd;
        } catch (IOException | RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    private void checkOwnerAndMode() throws IOException {
        PosixFileAttributeView view = dir.getFileAttributeView(PosixFileAttributeView.class);
        PosixFileAttributes a = view.readAttributes(); // fstat on the open fd, not a path lookup
        // /proc/self belongs to this process's effective uid; principals compare by uid
        UserPrincipal self = Files.readAttributes(Path.of("/proc/self"), PosixFileAttributes.class).owner();
        if (!a.owner().equals(self)) {
            throw new RefusedDirectoryException(path + " is owned by " + a.owner().getName() + ", not by this process ("
                    + self.getName() + ")");
        }
        if (!a.permissions().equals(DIR_MODE)) {
            // tighten what an older version or an operator left: the records name pod netns paths
            view.setPermissions(DIR_MODE);
        }
    }

    Path path() {
        return path;
    }

    /** File names ending in {@link #SUFFIX}, and symlinks or other odd entries in {@code odd}. */
    List<String> list(List<String> odd) throws IOException {
        List<String> names = new ArrayList<>();
        for (String n : entries()) {
            if (n.startsWith(TMP_PREFIX)) {
                continue;
            }
            BasicFileAttributes a = dir.getFileAttributeView(Path.of(n), PosixFileAttributeView.class,
                    LinkOption.NOFOLLOW_LINKS).readAttributes();
            if (n.endsWith(SUFFIX) && a.isRegularFile()) {
                names.add(n);
            } else {
                odd.add(n);
            }
        }
        return names;
    }

    /** Removes temp files a crash left behind; returns how many. */
    int removeTempFiles() throws IOException {
        int n = 0;
        for (String name : entries()) {
            if (name.startsWith(TMP_PREFIX)) {
                dir.deleteFile(Path.of(name));
                n++;
            }
        }
        return n;
    }

    /** A directory stream iterates once, so each listing reopens "." relative to the held fd. */
    private List<String> entries() throws IOException {
        List<String> names = new ArrayList<>();
        try (SecureDirectoryStream<Path> again = dir.newDirectoryStream(Path.of("."), LinkOption.NOFOLLOW_LINKS)) {
            for (Path p : again) {
                names.add(p.getFileName().toString());
            }
        }
        return names;
    }

    byte[] read(String name, int max) throws IOException {
        try (SeekableByteChannel ch = dir.newByteChannel(Path.of(name),
                Set.<OpenOption>of(StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS))) {
            long size = ch.size();
            if (size > max) {
                throw new IOException(name + " is " + size + " bytes, the limit is " + max);
            }
            ByteBuffer buf = ByteBuffer.allocate((int) size);
            while (buf.hasRemaining() && ch.read(buf) >= 0) {
                // read until full or EOF
            }
            buf.flip();
            byte[] b = new byte[buf.remaining()];
            buf.get(b);
            return b;
        }
    }

    /** Where the unlink of a replaced record's old content runs: a task that may run on another thread, later. */
    void disposeWith(Executor disposal) {
        this.disposal = disposal;
    }

    /**
     * Temp file, then rename over {@code name}. With {@code sync} the file and the directory are fsynced (durable
     * across a node crash); without, the rename is still atomic for every reader and survives the daemon's death
     * (the page cache belongs to the kernel), only not a crash of the node. {@code onDisk} says whether {@code name}
     * is expected to exist (it then is exchanged, not renamed over); a wrong guess only costs the other path.
     */
    void writeAtomically(String name, byte[] data, boolean sync, boolean onDisk) throws IOException {
        Path tmp = Path.of(TMP_PREFIX + name + "-" + Long.toHexString(ThreadLocalRandom.current().nextLong()));
        boolean renamed = false;
        try {
            try (SeekableByteChannel ch = dir.newByteChannel(tmp, Set.<OpenOption>of(StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS), PosixFilePermissions.asFileAttribute(FILE_MODE))) {
                ByteBuffer buf = ByteBuffer.wrap(data);
                while (buf.hasRemaining()) {
                    ch.write(buf);
                }
                if (sync) {
                    ((FileChannel) ch).force(true);
                }
            }
            replace(tmp, name, onDisk);
            renamed = true;
            if (sync) {
                syncDir();
            }
        } finally {
            if (!renamed) {
                deleteQuietly(tmp);
            }
        }
    }

    /** Puts {@code tmp} in place of {@code name}: an exchange and an unlink when it can (see the class comment). */
    private void replace(Path tmp, String name, boolean onDisk) throws IOException {
        if (onDisk && !noExchange) {
            try {
                Syscalls.renameExchange(fd, tmp.toString(), name);
                // the old record now, at a temp name that nothing reads; a leftover is removed at the next start
                disposal.execute(() -> deleteQuietly(tmp));
                return;
            } catch (SyscallException e) {
                if (e.errno() == Errno.EINVAL) {
                    noExchange = true;
                } else if (e.errno() != Errno.ENOENT) {
                    throw e;
                }
            }
        }
        dir.move(tmp, dir, Path.of(name));
    }

    /** Deletes {@code name}; false when it was not there. */
    boolean delete(String name) throws IOException {
        return delete(name, true);
    }

    /** The same; {@code sync} as for {@link #writeAtomically(String, byte[], boolean)}. */
    boolean delete(String name, boolean sync) throws IOException {
        try {
            dir.deleteFile(Path.of(name));
        } catch (NoSuchFileException e) {
            return false;
        }
        if (sync) {
            syncDir();
        }
        return true;
    }

    private void syncDir() throws IOException {
        try (SeekableByteChannel ch = dir.newByteChannel(Path.of("."), Set.of(StandardOpenOption.READ))) {
            ((FileChannel) ch).force(true);
        }
    }

    private void deleteQuietly(Path tmp) {
        try {
            dir.deleteFile(tmp);
        } catch (IOException | ClosedDirectoryStreamException e) {
            // nothing was created, the filesystem went read-only, or (a disposal run late) the store was closed
            // meanwhile: removeTempFiles() tidies at the next start
        }
    }

    @Override
    public void close() throws IOException {
        fd.close();
        dir.close();
    }
}
