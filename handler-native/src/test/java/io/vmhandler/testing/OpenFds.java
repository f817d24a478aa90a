package io.vmhandler.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/** Counts this JVM's open fds of one kind, so a test can tell that code under test closed what it opened. */
public final class OpenFds {
    /** The /proc/self/fd link of a pidfd (pidfd_open(2)). */
    public static final String PIDFD = "anon_inode:[pidfd]";
    /** The prefix of the /proc/self/fd link of a network namespace fd. */
    public static final String NETNS = "net:";

    private OpenFds() {}

    /** How many fds' /proc/self/fd links start with {@code kind}. */
    public static long count(String kind) throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.filter(fd -> {
                try {
                    return Files.readSymbolicLink(fd).toString().startsWith(kind);
                } catch (IOException e) {
                    return false; // the fd of the listing itself, or one closed meanwhile
                }
            }).count();
        }
    }
}
