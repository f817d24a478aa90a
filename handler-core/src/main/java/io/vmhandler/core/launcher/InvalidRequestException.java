package io.vmhandler.core.launcher;

/**
 * A field of a launcher request is wrong (out of range, malformed, or names something that cannot
 * serve): INVALID_ARGUMENT at the port. The message names the request field as the launcher API spells
 * it ({@code pid}, {@code qemu_pid}, {@code libvirt_version}) and the limit, in the caller's terms only.
 */
public final class InvalidRequestException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final String field;

    public InvalidRequestException(String field, String message) {
        super(message);
        this.field = field;
    }

    public String field() {
        return field;
    }
}
