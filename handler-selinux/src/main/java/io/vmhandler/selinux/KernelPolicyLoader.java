package io.vmhandler.selinux;

import io.vmhandler.selinux.sepol.BinaryPolicy;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads a freshly built store into the running kernel, by writing the binary policy to the host's
 * selinuxfs {@code load} node, which is what {@code load_policy} does (libselinux
 * {@code security_load_policy}). Done here rather than by libsemanage, which would exec
 * {@code load_policy} from this container and decide by this container's own SELinux config.
 *
 * <p>Only the live host's store, and only when it is the store the host's config names, is loaded:
 * loading another store would replace the running policy with one the host does not boot with.
 * Blocking: one write of 2-10 MB, during which the kernel swaps policies.
 */
public final class KernelPolicyLoader {
    private static final Logger log = LoggerFactory.getLogger(KernelPolicyLoader.class);

    /** What happened, and why, for logs and CLI output. */
    public record Result(boolean loaded, String reason) {}

    private final Path procFilesystems;

    public KernelPolicyLoader() {
        this(SelinuxStatus.PROC_FILESYSTEMS);
    }

    /** @param procFilesystems a stand-in for {@code /proc/filesystems} in tests */
    public KernelPolicyLoader(Path procFilesystems) {
        this.procFilesystems = procFilesystems;
    }

    /** Loads {@code root}'s newest built policy if {@code root} is the live host's active store. */
    public Result loadIfLive(PolicyRoot root) throws IOException {
        if (!root.isLiveHost()) {
            return new Result(false, root.root() + " is not the live host's root");
        }
        return loadIfActive(root);
    }

    /** Like {@link #loadIfLive} without the live-root test: for a root already known to be the host's. */
    Result loadIfActive(PolicyRoot root) throws IOException {
        SelinuxStatus st = SelinuxStatus.read(root.root(), procFilesystems);
        if (!st.enabled() || st.enforcing() == null) {
            return new Result(false, st.detail());
        }
        if (!root.store().equals(st.policyType())) {
            return new Result(false, "store " + root.store() + " is not the host's active policy ("
                    + st.policyType() + ")");
        }
        Path policy = BinaryPolicy.newestPolicyFile(root.policyDir());
        if (policy == null) {
            throw new IOException("no built policy in " + root.policyDir());
        }
        load(policy, st.selinuxfs(), st.kernelPolicyVersion());
        return new Result(true, "loaded " + policy + " into the kernel");
    }

    /**
     * Writes {@code policyFile} to {@code selinuxfs/load} in one write (the kernel takes the whole
     * image at offset 0), first rewriting it in an older format if the kernel's {@code policyvers}
     * is lower than the file's.
     */
    public void load(Path policyFile, Path selinuxfs, Integer kernelVersion) throws IOException {
        byte[] image = Files.readAllBytes(policyFile);
        int version = BinaryPolicy.version(image);
        if (kernelVersion != null && version > kernelVersion) {
            image = BinaryPolicy.downgrade(image, kernelVersion);
        }
        Path load = selinuxfs.resolve("load");
        try (FileChannel ch = FileChannel.open(load, StandardOpenOption.WRITE)) {
            int n = ch.write(ByteBuffer.wrap(image));
            if (n != image.length) {
                throw new IOException("write(" + load + "): the kernel took " + n + " of " + image.length + " bytes");
            }
        }
        log.atInfo().addKeyValue("policy", policyFile).addKeyValue("bytes", image.length)
                .addKeyValue("version", Math.min(version, kernelVersion == null ? version : kernelVersion))
                .log("loaded the SELinux policy into the kernel");
    }
}
