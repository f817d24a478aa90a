package io.vmhandler.selinux.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.Locale;

/** Appends measured durations to target/selinux-timings.txt and prints them, for the docs and reports. */
public final class Timings {
    private Timings() {}

    public static void record(String what, double seconds) {
        String line = String.format(Locale.ROOT, "%s %-55s %8.3f s%n", Instant.now(), what, seconds);
        System.out.print("TIMING " + line);
        try {
            Path f = Path.of("target", "selinux-timings.txt");
            Files.createDirectories(f.getParent());
            Files.writeString(f, line, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            System.out.println("could not record timing: " + e.getMessage());
        }
    }
}
