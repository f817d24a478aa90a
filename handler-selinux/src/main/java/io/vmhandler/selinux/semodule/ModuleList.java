package io.vmhandler.selinux.semodule;

import io.vmhandler.selinux.InstalledModule;
import java.util.ArrayList;
import java.util.List;

/**
 * Parses {@code semodule -lfull --checksum}: one line per module and priority,
 * {@code <priority> <name> <lang> [disabled] sha256:<hex>} (policycoreutils 3.4 semodule.c).
 */
final class ModuleList {
    private ModuleList() {}

    static List<InstalledModule> parse(String output, String name) {
        List<InstalledModule> out = new ArrayList<>();
        for (String line : output.split("\n")) {
            String[] w = line.trim().split("\\s+");
            if (w.length < 3 || !w[1].equals(name) || !w[0].matches("[0-9]{1,3}")) {
                continue;
            }
            boolean disabled = false;
            String checksum = null;
            for (int i = 3; i < w.length; i++) {
                if (w[i].equals("disabled")) {
                    disabled = true;
                } else if (w[i].startsWith("sha256:")) {
                    checksum = w[i];
                }
            }
            if (checksum == null) {
                throw new IllegalStateException("semodule printed no checksum for " + name
                        + " (needs SELinux userspace 3.4+ for --checksum): " + line.trim());
            }
            out.add(new InstalledModule(name, Integer.parseInt(w[0]), w[2], checksum, !disabled));
        }
        return out;
    }
}
