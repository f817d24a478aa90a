package io.vmhandler.memlock;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A libvirt release, {@code major.minor.micro}. It selects which memlock rules apply
 * ({@link MemlockRules#of}). Parsed from {@code X.Y.Z} or {@code X.Y} (what {@code virsh version}
 * and {@code libvirtd --version} print) or from the integer {@code virConnectGetLibVersion} returns
 * ({@code major * 1,000,000 + minor * 1,000 + micro}, e.g. {@code 10000000} for 10.0.0).
 */
public record LibvirtVersion(int major, int minor, int micro) implements Comparable<LibvirtVersion> {
    /**
     * Used when the launcher reported no version. Any release of 9.8 or later selects the newest
     * rules; for a KubeVirt VMI every release from 8.7 on gives the same number, because KubeVirt
     * never creates the NVMe disks and vDPA devices those releases count differently (docs/memlock.md
     * §7.1, §7.4).
     */
    public static final LibvirtVersion DEFAULT = new LibvirtVersion(10, 0, 0);

    private static final Pattern DOTTED = Pattern.compile("(\\d{1,4})\\.(\\d{1,3})(?:\\.(\\d{1,3}))?");
    private static final Pattern NUMBER = Pattern.compile("\\d{7,10}");

    public LibvirtVersion {
        if (major < 0 || minor < 0 || minor > 999 || micro < 0 || micro > 999) {
            throw new IllegalArgumentException("libvirt version " + major + "." + minor + "." + micro
                    + " is out of range (minor and micro are 0..999)");
        }
    }

    /** {@code field} names the input (e.g. {@code --libvirt-version}) in the error. */
    public static LibvirtVersion parse(String field, String text) {
        String t = text == null ? "" : text.strip();
        if (t.startsWith("v")) {
            t = t.substring(1);
        }
        Matcher m = DOTTED.matcher(t);
        if (m.matches()) {
            return new LibvirtVersion(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)),
                    m.group(3) == null ? 0 : Integer.parseInt(m.group(3)));
        }
        if (NUMBER.matcher(t).matches()) {
            long n = Long.parseLong(t);
            return new LibvirtVersion((int) (n / 1_000_000), (int) (n / 1000 % 1000), (int) (n % 1000));
        }
        throw new IllegalArgumentException(field + " must be a libvirt version like 10.0.0 (X.Y.Z), got '" + text + "'");
    }

    public boolean atLeast(int maj, int min) {
        return major > maj || (major == maj && minor >= min);
    }

    @Override
    public int compareTo(LibvirtVersion o) {
        int c = Integer.compare(major, o.major);
        if (c == 0) {
            c = Integer.compare(minor, o.minor);
        }
        return c != 0 ? c : Integer.compare(micro, o.micro);
    }

    @Override
    public String toString() {
        return major + "." + minor + "." + micro;
    }
}
