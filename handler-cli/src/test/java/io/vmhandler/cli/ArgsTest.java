package io.vmhandler.cli;

import io.vmhandler.core.json.Json;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ArgsTest {
    private static Args parse(String... a) {
        return Args.parse(List.of(a), Set.of("pid", "name"), Set.of("json"));
    }

    @Test
    void parsesValuesSwitchesAndPositionals() {
        Args a = parse("apply", "--pid", "42", "--json", "--name=x");
        assertThat(a.positionals()).containsExactly("apply");
        assertThat(a.intValue("pid", 1, 100)).isEqualTo(42);
        assertThat(a.flag("json")).isTrue();
        assertThat(a.required("name")).isEqualTo("x");
    }

    @Test
    void errorsNameTheFlagAndTheLimit() {
        assertThatThrownBy(() -> parse("--pid")).hasMessage("--pid needs a value");
        assertThatThrownBy(() -> parse("--nope")).hasMessage("unknown flag --nope");
        assertThatThrownBy(() -> parse("--json=1")).hasMessage("--json takes no value");
        assertThatThrownBy(() -> parse("--pid", "1", "--pid", "2")).hasMessage("--pid is given more than once");
        assertThatThrownBy(() -> parse("--pid", "x").intValue("pid", 1, 9))
                .hasMessage("--pid must be an integer in 1..9, got 'x'");
        assertThatThrownBy(() -> parse("--pid", "0").intValue("pid", 1, 9)).hasMessage("--pid must be in 1..9, got 0");
        assertThatThrownBy(() -> parse().required("pid")).hasMessage("--pid is required");
        assertThatThrownBy(() -> parse("--pid", "1", "--name", "n").exactlyOne("pid", "name"))
                .hasMessage("--pid and --name cannot be combined");
        assertThatThrownBy(() -> parse().exactlyOne("pid", "name")).hasMessage("one of --pid, --name is required");
    }

    @Test
    void jsonEscapesAndOrders() {
        var m = new java.util.LinkedHashMap<String, Object>();
        m.put("b", "q\"\n\u0001");
        m.put("a", List.of(1, true, 2.5));
        m.put("n", null);
        assertThat(Json.write(m)).isEqualTo("{\"b\":\"q\\\"\\n\\u0001\",\"a\":[1,true,2.5],\"n\":null}");
    }
}
