package io.vmhandler.cli;

import java.io.PrintStream;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Dispatches {@code vmhandler <command> ...} to a registered {@link Command}. Usage errors exit 2
 * with the message and the command's usage; operation failures exit 1 with one line that names the
 * syscall, errno and target (never a stack trace unless {@code VMHANDLER_DEBUG=1}).
 */
public final class Cli {
    private final Map<String, Command> commands = new LinkedHashMap<>();

    public Cli register(Command c) {
        if (commands.put(c.name(), c) != null) {
            throw new IllegalStateException("command registered twice: " + c.name());
        }
        return this;
    }

    public int run(String[] argv, PrintStream out, PrintStream err) {
        if (argv.length == 0 || argv[0].equals("--help") || argv[0].equals("-h") || argv[0].equals("help")) {
            out.print(help());
            return argv.length == 0 ? 2 : 0;
        }
        Command c = commands.get(argv[0]);
        if (c == null) {
            err.println("vmhandler: unknown command '" + argv[0] + "'");
            err.print(help());
            return 2;
        }
        List<String> rest = Arrays.asList(argv).subList(1, argv.length);
        if (rest.contains("--help") || rest.contains("-h")) {
            out.print(c.usage());
            return 0;
        }
        try {
            return c.run(rest, out, err);
        } catch (UsageException e) {
            err.println("vmhandler " + c.name() + ": " + e.getMessage());
            err.print(c.usage());
            return 2;
        } catch (IllegalArgumentException e) {
            err.println("vmhandler " + c.name() + ": invalid input: " + e.getMessage());
            return 2;
        } catch (Exception e) {
            err.println("vmhandler " + c.name() + ": " + describe(e));
            if ("1".equals(System.getenv("VMHANDLER_DEBUG"))) {
                e.printStackTrace(err);
            }
            return 1;
        }
    }

    private static String describe(Throwable e) {
        String m = e.getMessage();
        return m == null || m.isBlank() ? e.getClass().getSimpleName() : m;
    }

    public String help() {
        StringBuilder sb = new StringBuilder("usage: vmhandler <command> [flags]   (vmhandler <command> --help for details)\n\ncommands:\n");
        for (Command c : commands.values()) {
            sb.append(String.format("  %-10s %s%n", c.name(), c.summary()));
        }
        return sb.toString();
    }
}
