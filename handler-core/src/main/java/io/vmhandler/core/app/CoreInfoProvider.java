package io.vmhandler.core.app;

import io.vmhandler.core.node.NodeFacts;
import io.vmhandler.grpc.DaemonInfo;
import io.vmhandler.grpc.InfoProvider;
import java.util.ArrayList;
import java.util.List;

/** The Info service's answer: the node facts probed once at startup. */
final class CoreInfoProvider implements InfoProvider {
    private final DaemonInfo info;

    CoreInfoProvider(String node, NodeFacts facts) {
        List<DaemonInfo.Capability> caps = new ArrayList<>();
        for (NodeFacts.CapabilityCheck c : facts.capabilities()) {
            caps.add(new DaemonInfo.Capability(c.name(), c.available(), c.available() ? "" : c.reason()));
        }
        this.info = new DaemonInfo(Version.current(), node, facts.kernel(), facts.cgroupMode(), facts.selinuxMode(),
                facts.tunDevice(), facts.kvmDevice(), caps);
    }

    @Override
    public DaemonInfo info() {
        return info;
    }
}
