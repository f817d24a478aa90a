package io.vmhandler.grpc.v1;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.grpc.DaemonInfo;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The Info response is built once per set of facts, and rebuilt when the provider's facts change. */
class InfoServiceV1Test {
    private static DaemonInfo facts(String kernel) {
        return new DaemonInfo("1.0", "node-a", kernel, "V2", "enforcing", true, false,
                List.of(new DaemonInfo.Capability("tap", true, ""), new DaemonInfo.Capability("kvm", false, "no /dev/kvm")));
    }

    @Test
    void theSameFactsGiveTheSameResponseObject() {
        DaemonInfo f = facts("6.8.0");
        InfoServiceV1 service = new InfoServiceV1(() -> f);
        GetInfoResponse first = service.response(f);
        assertThat(service.response(f)).isSameAs(first);
        assertThat(first.getNode().getKernel()).isEqualTo("6.8.0");
        assertThat(first.getNode().getCapabilitiesList()).extracting(NodeCapability::getName).containsExactly("tap", "kvm");
        assertThat(first.getApiVersionsList()).containsExactly("vmhandler.launcher.v1");
    }

    @Test
    void newFactsAreAnsweredWithANewResponse() {
        InfoServiceV1 service = new InfoServiceV1(() -> facts("x"));
        GetInfoResponse old = service.response(facts("6.8.0"));
        GetInfoResponse now = service.response(facts("6.9.1"));
        assertThat(now.getNode().getKernel()).isEqualTo("6.9.1");
        assertThat(old.getNode().getKernel()).isEqualTo("6.8.0");
    }
}
