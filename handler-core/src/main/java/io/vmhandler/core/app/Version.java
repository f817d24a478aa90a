package io.vmhandler.core.app;

/** The daemon's version, from the jar manifest when packaged, else the development marker. */
public final class Version {
    private Version() {}

    public static String current() {
        String v = Version.class.getPackage().getImplementationVersion();
        return v == null ? "0.1.0-SNAPSHOT" : v;
    }
}
