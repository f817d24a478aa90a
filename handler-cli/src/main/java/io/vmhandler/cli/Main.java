package io.vmhandler.cli;

import io.vmhandler.cgroups.CgroupManager;
import io.vmhandler.core.app.Daemon;
import io.vmhandler.nativeio.NetNamespace;
import io.vmhandler.net.IoctlTapDevices;
import io.vmhandler.core.memlock.MemlockApplier;
import io.vmhandler.memlock.MemlockFormula;
import io.vmhandler.memlock.SysfsNvlink2Probe;
import io.vmhandler.net.TapDevices;
import java.nio.file.Path;
import java.util.function.Supplier;

/**
 * The one composition root: every command and every long-lived object is wired here and nowhere
 * else. Native-backed services are created lazily, so {@code --help} and usage errors work even
 * where the native library cannot load.
 */
public final class Main {
    private Main() {}

    public static Cli cli() {
        Supplier<TapDevices> taps = memoize(() -> new IoctlTapDevices(new NetNamespace("cli", 1)));
        Supplier<CgroupManager> cgroups = memoize(() -> CgroupCommand.hostManager(System.getenv(CgroupCommand.ROOT_ENV)));
        return new Cli()
                .register(new DoctorCommand())
                .register(new SelinuxCommand())
                .register(new TapCommand(taps))
                .register(new MemlockCommand(new MemlockFormula(), new SysfsNvlink2Probe(Path.of("/sys")),
                        memoize(MemlockApplier::new)))
                .register(new PinCommand(cgroups))
                .register(new CgroupCommand(cgroups))
                .register(new LauncherCommand())
                .register(new StatusCommand())
                .register(new RunCommand(Daemon::new))
                .register(new DemoCommand());
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
