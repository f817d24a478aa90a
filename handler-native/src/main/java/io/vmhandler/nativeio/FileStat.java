package io.vmhandler.nativeio;

import static io.vmhandler.nativeio.LinuxConstants.S_IFCHR;
import static io.vmhandler.nativeio.LinuxConstants.S_IFMT;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The fields of struct stat the daemon checks. x86-64 layout ({@code arch/x86/include/uapi/asm/stat.h}):
 * st_dev u64 @0, st_ino u64 @8, st_nlink u64 @16, st_mode u32 @24, st_uid u32 @28, st_gid u32 @32,
 * pad @36, st_rdev u64 @40; 144 bytes in all.
 *
 * @param dev st_dev, the device of the filesystem holding the inode
 * @param ino st_ino
 * @param mode st_mode (type and permission bits)
 * @param rdev st_rdev, the device number of a device node
 */
public record FileStat(long dev, long ino, int mode, long uid, long gid, long rdev) {
    static final int STRUCT_SIZE = 144;

    static FileStat decode(byte[] buf) {
        ByteBuffer b = ByteBuffer.wrap(buf).order(ByteOrder.LITTLE_ENDIAN);
        return new FileStat(b.getLong(0), b.getLong(8), b.getInt(24), Integer.toUnsignedLong(b.getInt(28)), Integer.toUnsignedLong(b.getInt(32)),
                b.getLong(40));
    }

    public boolean isCharDevice() {
        return (mode & S_IFMT) == S_IFCHR;
    }

    /** The file type as ls shows it, for messages: "character device", "regular file", ... (inode(7)). */
    public String typeName() {
        return switch (mode & S_IFMT) {
            case 0140000 -> "socket";
            case 0120000 -> "symbolic link";
            case 0100000 -> "regular file";
            case 0060000 -> "block device";
            case 0040000 -> "directory";
            case 0020000 -> "character device";
            case 0010000 -> "FIFO";
            default -> "file of type 0" + Integer.toOctalString(mode & S_IFMT);
        };
    }

    /** Permission bits (07777). */
    public int permissions() {
        return mode & 07777;
    }

    /** glibc's gnu_dev_major: bits 8..19 and 32..63 of dev_t. */
    public int major() {
        return (int) (((rdev >>> 8) & 0xfff) | ((rdev >>> 32) & ~0xfffL));
    }

    /** glibc's gnu_dev_minor: bits 0..7 and 20..31 of dev_t. */
    public int minor() {
        return (int) ((rdev & 0xff) | ((rdev >>> 12) & ~0xffL));
    }
}
