package io.vmhandler.cli;

import io.vmhandler.cgroups.CgroupManager;
import io.vmhandler.core.devices.DeviceSettings;
import io.vmhandler.core.app.Daemon;
import io.vmhandler.nativeio.NetNamespace;
import io.vmhandler.net.IoctlTapDevices;
import io.vmhandler.core.memlock.MemlockApplier;
import io.vmhandler.memlock.MemlockFormula;
import io.vmhandler.memlock.SysfsNvlink2Probe;
import io.vmhandler.net.RtnetlinkTapQos;
import io.vmhandler.net.TapDevices;
import io.vmhandler.net.TapQos;
import io.vmhandler.net.linux.Psched;
import io.vmhandler.proc.ProcFs;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.function.Supplier;

/**
 * The one composition root: every command and every long-lived object is wired here and nowhere
 * else. Native-backed services are created lazily, so {@code --help} and usage errors work even
 * where the native library cannot load.
 */
public final class Main {
    /** Overrides the proc root of pin, memlock apply and cgroup (e.g. a pod's view of the host's /proc). */
    public static final String PROC_ROOT_ENV = "VMHANDLER_PROC_ROOT";

    private Main() {}

    static Path procRoot(String env) {
        return env == null || env.isBlank() ? ProcFs.DEFAULT_ROOT : Path.of(env);
    }

    public static Cli cli() {
        Supplier<NetNamespace> netns = memoize(() -> new NetNamespace("cli", 1));
        Supplier<TapDevices> taps = memoize(() -> new IoctlTapDevices(netns.get()));
        Supplier<Psched> psched = memoize(Main::psched);
        Supplier<TapQos> qos = memoize(() -> new RtnetlinkTapQos(netns.get(), psched.get()));
        Path proc = procRoot(System.getenv(PROC_ROOT_ENV));
        Supplier<CgroupManager> cgroups = memoize(() -> CgroupCommand.hostManager(System.getenv(CgroupCommand.ROOT_ENV), proc));
        return new Cli()
                .register(new DoctorCommand())
                .register(new SelinuxCommand())
                .register(new TapCommand(taps, qos, psched))
                .register(new MemlockCommand(new MemlockFormula(), new SysfsNvlink2Probe(Path.of("/sys")),
                        memoize(() -> new MemlockApplier(proc))))
                .register(new PinCommand(cgroups, proc))
                .register(new CgroupCommand(cgroups))
                .register(new DevicesCommand(memoize(() -> DeviceSettings.fromEnvironment()
                        .podDevices(proc, new NetNamespace("cli-sysctl", 1))), proc))
                .register(new LauncherCommand())
                .register(new StatusCommand())
                .register(new RunCommand(Daemon::new))
                .register(new DemoCommand());
    }

    /** The scheduler tick from /proc/net/psched, as tc reads it; the rate flags' limits depend on it. */
    private static Psched psched() {
        try {
            return Psched.system();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static void main(String[] args) {
        int code = cli().run(args, System.out, System.err);
        System.out.flush();
        System.exit(code);
    }

    static <T> Supplier<T> memoize(Supplier<T> s) {
        return new Supplier<>() {
            private T value;

            @Override
            public synchronized T get() {
                if (value == null) {
                    value = s.get();
                }
                return value;
            }
        };
    }
}
