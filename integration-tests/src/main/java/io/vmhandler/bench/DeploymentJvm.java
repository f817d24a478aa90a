package io.vmhandler.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The daemon's JVM flags as the deployment gives them, read from the deployment files themselves so that a
 * benchmark or a test that starts a daemon process cannot drift from what the image runs:
 * <ul>
 *   <li>{@code deploy/Containerfile}: the options of the {@code ENTRYPOINT}'s {@code java} (the class data sharing
 *       options apart: their archive path is the image's, a benchmark builds its own archive);
 *   <li>{@code deploy/base/daemonset.yaml}: the container's {@code JAVA_TOOL_OPTIONS} and its memory limit,
 *       passed as {@code -XX:MaxRAM}: outside a container the JVM would size its heap from the host's RAM,
 *       in the pod it sizes it from the cgroup limit.
 * </ul>
 *
 * @param image the ENTRYPOINT's JVM options, without class data sharing ones
 * @param toolOptions the DaemonSet's JAVA_TOOL_OPTIONS, split at spaces
 * @param memoryLimitBytes the DaemonSet container's {@code resources.limits.memory}
 */
public record DeploymentJvm(List<String> image, List<String> toolOptions, long memoryLimitBytes) {
    static final String CONTAINERFILE = "deploy/Containerfile";
    static final String DAEMONSET = "deploy/base/daemonset.yaml";

    private static final Pattern ENTRYPOINT = Pattern.compile("^ENTRYPOINT\\s*\\[(.*?)]", Pattern.MULTILINE | Pattern.DOTALL);
    private static final Pattern QUOTED = Pattern.compile("\"((?:[^\"\\\\]|\\\\.)*)\"");
    private static final Pattern TOOL_OPTIONS = Pattern.compile(
            "-\\s*name:\\s*JAVA_TOOL_OPTIONS\\s*\\n\\s*value:\\s*\"([^\"]*)\"");
    private static final Pattern LIMIT = Pattern.compile("limits:\\s*\\n(?:\\s*#.*\\n)*\\s*memory:\\s*(\\d+)(Mi|Gi)\\b");

    public DeploymentJvm {
        image = List.copyOf(image);
        toolOptions = List.copyOf(toolOptions);
    }

    /** The deployment of the repository found from {@code vmhandler.home}, else from the working directory up. */
    public static DeploymentJvm ofRepository() {
        return read(repositoryRoot());
    }

    /** Reads the flags from the two deployment files under {@code root}; a file or field missing is an error naming it. */
    public static DeploymentJvm read(Path root) {
        return parse(readFile(root.resolve(CONTAINERFILE)), readFile(root.resolve(DAEMONSET)));
    }

    static DeploymentJvm parse(String containerfile, String daemonset) {
        Matcher e = ENTRYPOINT.matcher(containerfile.replace("\\\n", " "));
        if (!e.find()) {
            throw new IllegalArgumentException(CONTAINERFILE + ": no ENTRYPOINT [\"java\", ...] found");
        }
        List<String> argv = new ArrayList<>();
        for (Matcher q = QUOTED.matcher(e.group(1)); q.find(); ) {
            argv.add(q.group(1));
        }
        if (argv.isEmpty() || !argv.get(0).equals("java")) {
            throw new IllegalArgumentException(CONTAINERFILE + ": ENTRYPOINT must start with \"java\", found " + argv);
        }
        List<String> image = new ArrayList<>();
        // the JVM's options end where its classpath @argfile or the main class begins
        for (String a : argv.subList(1, argv.size())) {
            if (!a.startsWith("-")) {
                break;
            }
            if (!a.startsWith("-XX:SharedArchiveFile=") && !a.startsWith("-Xshare:")) {
                image.add(a);
            }
        }
        Matcher t = TOOL_OPTIONS.matcher(daemonset);
        if (!t.find()) {
            throw new IllegalArgumentException(DAEMONSET + ": no env JAVA_TOOL_OPTIONS with a quoted value found");
        }
        Matcher l = LIMIT.matcher(daemonset);
        if (!l.find()) {
            throw new IllegalArgumentException(DAEMONSET + ": no resources.limits.memory in Mi or Gi found");
        }
        long limit = Long.parseLong(l.group(1)) << (l.group(2).equals("Gi") ? 30 : 20);
        List<String> tool = t.group(1).isBlank() ? List.of() : List.of(t.group(1).trim().split("\\s+"));
        return new DeploymentJvm(image, tool, limit);
    }

    /**
     * The image's JVM flags without those that size the heap in absolute terms ({@code -Xms}, {@code -Xmx},
     * {@code -Xmn}, {@code -XX:InitialHeapSize=}, {@code -XX:MaxHeapSize=}, {@code -XX:NewSize=}): for a JVM that
     * holds more than the daemon (bin/bench-daemon's in-process part also runs fabric8's mock API server, whose
     * per-request garbage is most of that JVM's allocation), for which the daemon's sizes are wrong, as its pod
     * limit is. The relative flags (free ratios) stay.
     */
    public List<String> imageWithoutHeapSizes() {
        return image.stream().filter(f -> !HEAP_SIZE.matcher(f).lookingAt()).toList();
    }

    private static final Pattern HEAP_SIZE = Pattern.compile("-Xm[sxn]|-XX:(InitialHeapSize|MaxHeapSize|NewSize)=");

    /** Every flag a daemon process gets in the pod, without class data sharing. */
    public List<String> flags() {
        List<String> all = new ArrayList<>(image);
        all.addAll(toolOptions);
        all.add("-XX:MaxRAM=" + (memoryLimitBytes >> 20) + "m");
        return List.copyOf(all);
    }

    /** {@link #flags()} plus the image's class data sharing options, with {@code archive} as the archive. */
    public List<String> flagsWithArchive(Path archive) {
        List<String> all = new ArrayList<>(flags());
        all.add("-XX:SharedArchiveFile=" + archive);
        all.add("-Xshare:auto");
        return List.copyOf(all);
    }

    /** Where the image puts the daemon's jars; its classpath is every jar there, sorted by name. */
    static final String IMAGE_LIB = "/opt/vmhandler/lib/";
    private static final Pattern COPY_TO_LIB = Pattern.compile(
            "^COPY\\s+(\\S+)\\s+" + Pattern.quote(IMAGE_LIB) + "\\s*$", Pattern.MULTILINE);
    /** The test jar maven-jar-plugin makes beside a module's jar; the image's RUN removes it from lib/. */
    static final String TEST_JAR_SUFFIX = "-tests.jar";

    /**
     * The jars the image's lib/ holds, from the build tree under {@code root}: every {@code COPY SRC /opt/vmhandler/lib/}
     * of deploy/Containerfile (a directory: its jars; else a glob on file names in its directory), minus test jars,
     * sorted by file name as the image's {@code ls lib/*.jar | sort} sorts them. A benchmark that starts the daemon
     * on this classpath loads, scans and archives what the image does, not the benchmark's own, larger classpath
     * (the mock API server, vert.x, JMH). A COPY that matches no jar is an error naming it: the build is missing.
     */
    public static List<Path> imageJars(Path root) {
        return imageJars(root, readFile(root.resolve(CONTAINERFILE)));
    }

    static List<Path> imageJars(Path root, String containerfile) {
        Matcher m = COPY_TO_LIB.matcher(containerfile);
        List<Path> jars = new ArrayList<>();
        while (m.find()) {
            String src = m.group(1);
            // a directory copies its jars; anything else is a glob on the file names of its directory
            Path glob = Path.of(src.endsWith("/") ? src + "*.jar" : src);
            Path dir = root.resolve(glob.getParent() == null ? Path.of(".") : glob.getParent());
            var matcher = dir.getFileSystem().getPathMatcher("glob:" + glob.getFileName());
            List<Path> found = new ArrayList<>();
            if (Files.isDirectory(dir)) {
                try (var s = Files.list(dir)) {
                    s.filter(f -> matcher.matches(f.getFileName())).forEach(found::add);
                } catch (IOException e) {
                    throw new UncheckedIOException("listing " + src + " under " + root, e);
                }
            }
            found.removeIf(f -> f.getFileName().toString().endsWith(TEST_JAR_SUFFIX));
            if (found.isEmpty()) {
                throw new IllegalStateException(CONTAINERFILE + ": COPY " + src + " " + IMAGE_LIB
                        + " matches no jar under " + root + "; build first (./mvnw -B -DskipTests package)");
            }
            jars.addAll(found);
        }
        if (jars.isEmpty()) {
            throw new IllegalArgumentException(CONTAINERFILE + ": no COPY ... " + IMAGE_LIB + " found");
        }
        jars.sort(java.util.Comparator.comparing(f -> f.getFileName().toString()));
        return List.copyOf(jars);
    }

    static Path repositoryRoot() {
        String home = System.getProperty("vmhandler.home");
        if (home != null) {
            return Path.of(home);
        }
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isRegularFile(p.resolve(CONTAINERFILE))) {
                return p;
            }
        }
        throw new IllegalStateException("no " + CONTAINERFILE + " in " + Path.of("").toAbsolutePath()
                + " or above it, and -Dvmhandler.home is not set");
    }

    private static String readFile(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            throw new UncheckedIOException("reading the deployment file " + p, e);
        }
    }
}
