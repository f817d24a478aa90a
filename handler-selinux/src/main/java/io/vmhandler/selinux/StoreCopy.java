package io.vmhandler.selinux;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;

/**
 * Copies a policy store (modules, built policy, semanage.conf) into another root, so a module can
 * be compiled against it without touching the original.
 */
public final class StoreCopy {
    private StoreCopy() {}

    /**
     * @param neverallow set {@code expand-check=1} in the copy's semanage.conf, so libsemanage checks
     *     the policy's neverallow rules (Debian ships 0, libsemanage's built-in default is 1)
     */
    public static PolicyRoot copy(PolicyRoot from, Path toRoot, boolean neverallow) throws IOException {
        PolicyRoot to = new PolicyRoot(toRoot, from.store());
        tree(from.storeDir(), to.storeDir());
        if (Files.isDirectory(from.etcDir())) {
            tree(from.etcDir(), to.etcDir());
        }
        // libsemanage reads ROOT/etc/selinux/semanage.conf, else this system's /etc/selinux/semanage.conf
        Path conf = Files.exists(from.semanageConf()) ? from.semanageConf() : Path.of("/etc/selinux/semanage.conf");
        List<String> lines = new ArrayList<>(Files.exists(conf) ? Files.readAllLines(conf) : List.of("module-store = direct"));
        if (neverallow) {
            lines.removeIf(l -> l.trim().startsWith("expand-check"));
            lines.add("expand-check=1");
        }
        Files.createDirectories(to.semanageConf().getParent());
        Files.write(to.semanageConf(), lines);
        return to;
    }

    /** Deletes a tree; symlinks are removed, never followed. */
    public static void delete(Path dir) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path f, BasicFileAttributes a) throws IOException {
                Files.delete(f);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                Files.delete(d);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    private static void tree(Path src, Path dst) throws IOException {
        Files.walkFileTree(src, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes a) throws IOException {
                Files.createDirectories(dst.resolve(src.relativize(d).toString()));
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path f, BasicFileAttributes a) throws IOException {
                Files.copy(f, dst.resolve(src.relativize(f).toString()), StandardCopyOption.COPY_ATTRIBUTES,
                        LinkOption.NOFOLLOW_LINKS);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
