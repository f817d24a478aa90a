package io.vmhandler.cli;

import java.io.PrintStream;
import java.util.List;

/**
 * One {@code bin/vmhandler} subcommand. Implementations parse their own flags with {@link Args},
 * print results to {@code out} (plain text, or JSON with {@code --json}) and return the exit code:
 * 0 success, 1 the operation failed, 2 bad usage (throw {@link UsageException}).
 */
public interface Command {
    /** The word after {@code vmhandler}, e.g. {@code tap}. */
    String name();

    /** One line for the top-level help. */
    String summary();

    /** The full usage text printed on {@code --help} and after a usage error. */
    String usage();

    int run(List<String> args, PrintStream out, PrintStream err) throws Exception;
}
