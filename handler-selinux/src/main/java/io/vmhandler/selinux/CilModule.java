package io.vmhandler.selinux;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * A CIL policy module: its name (libsemanage takes it from the file name) and its exact bytes.
 * {@link #checksum()} is what libsemanage reports for it: the sha256 of the CIL (docs/selinux.md §8.3).
 */
public final class CilModule {
    /** Module names become file names in the store: keep them to a safe alphabet. */
    private static final Pattern NAME = Pattern.compile("[A-Za-z][A-Za-z0-9_]{0,63}");

    private final String name;
    private final byte[] content;

    private CilModule(String name, byte[] content) {
        this.name = name;
        this.content = content;
    }

    public static CilModule of(String name, byte[] content) {
        Objects.requireNonNull(content, "content");
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("module name must match " + NAME.pattern() + ", got '" + name + "'");
        }
        if (content.length == 0) {
            throw new IllegalArgumentException("module " + name + " is empty");
        }
        return new CilModule(name, content.clone());
    }

    public static CilModule of(String name, String cil) {
        return of(name, cil.getBytes(StandardCharsets.UTF_8));
    }

    /** The launcher module shipped in this jar: {@code selinux/virt_launcher.cil}. */
    public static CilModule launcher() {
        try (InputStream in = CilModule.class.getResourceAsStream("/selinux/virt_launcher.cil")) {
            if (in == null) {
                throw new IllegalStateException("selinux/virt_launcher.cil is missing from the handler-selinux jar");
            }
            return of("virt_launcher", in.readAllBytes());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public String name() {
        return name;
    }

    public byte[] content() {
        return content.clone();
    }

    /** {@code sha256:<hex>}, the form libsemanage 3.4+ computes for an installed CIL module. */
    public String checksum() {
        try {
            return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }

    @Override
    public String toString() {
        return name + " (" + content.length + " bytes, " + checksum() + ")";
    }
}
