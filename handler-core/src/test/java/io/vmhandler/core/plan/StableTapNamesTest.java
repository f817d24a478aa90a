package io.vmhandler.core.plan;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.core.plan.NetworkPlan.PlannedTap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class StableTapNamesTest {
    private static PlannedTap p(String iface, String tap) {
        return new PlannedTap(iface, tap, 2, null);
    }

    private static List<String> names(List<PlannedTap> taps) {
        return taps.stream().map(t -> t.interfaceName() + "=" + t.tapName()).toList();
    }

    @Test
    void withoutARecordThePlanIsUsedAsItIs() {
        List<PlannedTap> plan = List.of(p("default", "tap0"), p("b", "tap1"));
        assertThat(StableTapNames.assign(plan, Map.of())).isSameAs(plan);
    }

    @Test
    void recordedInterfacesKeepTheirTapsAndNewOnesAvoidEveryRecordedAndPlannedName() {
        Map<String, String> recorded = new LinkedHashMap<>();
        recorded.put("default", "tap0");
        recorded.put("d", "tap1"); // unplugged, not released yet
        recorded.put("c", "tap2");
        // a and b were inserted before c: by position a=tap1, b=tap2, c=tap3; c keeps tap2, tap3 is free again
        List<PlannedTap> plan = List.of(p("default", "tap0"), p("a", "tap1"), p("b", "tap2"), p("c", "tap3"));
        assertThat(names(StableTapNames.assign(plan, recorded)))
                .containsExactly("default=tap0", "a=tap3", "b=tap4", "c=tap2");
    }

    @Test
    void aNewInterfaceKeepsItsPlannedNameWhenNobodyHasIt() {
        List<PlannedTap> plan = List.of(p("default", "tap0"), p("b", "tap1"), p("c", "tap2"));
        assertThat(names(StableTapNames.assign(plan, Map.of("default", "tap0", "b", "tap1"))))
                .containsExactly("default=tap0", "b=tap1", "c=tap2");
    }

    @Test
    void queuesAndMtuOfARenamedTapAreThePlans() {
        PlannedTap renamed = StableTapNames.assign(List.of(new PlannedTap("a", "tap1", 4, 1400)),
                Map.of("x", "tap1")).get(0);
        assertThat(renamed).isEqualTo(new PlannedTap("a", "tap2", 4, 1400));
    }
}
