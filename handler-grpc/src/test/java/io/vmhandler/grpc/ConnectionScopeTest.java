package io.vmhandler.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** What a connection keeps, and that its close releases all of it once. */
class ConnectionScopeTest {
    @Test
    void keepsOneValuePerKeyUntilClosedThenClosesItOnceAndKeepsNothingMore() {
        ConnectionScope scope = ConnectionScope.open();
        AtomicInteger closed = new AtomicInteger();
        AutoCloseable first = closed::incrementAndGet;
        assertThat(scope.keep("caller", first)).isTrue();
        assertThat(scope.keep("caller", () -> { })).isFalse();
        assertThat(scope.get("caller")).isSameAs(first);
        scope.close();
        scope.close();
        assertThat(closed).hasValue(1);
        assertThat(scope.isClosed()).isTrue();
        assertThat(scope.size()).isZero();
        assertThat(scope.keep("caller", first)).isFalse();
    }

    @Test
    void dropClosesOnlyTheValueStillKept() {
        ConnectionScope scope = ConnectionScope.open();
        AtomicInteger closed = new AtomicInteger();
        AutoCloseable kept = closed::incrementAndGet;
        scope.keep("caller", kept);
        scope.drop("caller", () -> closed.addAndGet(100)); // not the kept one: nothing happens
        assertThat(closed).hasValue(0);
        scope.drop("caller", kept);
        assertThat(closed).hasValue(1);
        assertThat(scope.get("caller")).isNull();
        scope.close();
        assertThat(closed).hasValue(1);
    }

    @Test
    void noneKeepsNothing() {
        ConnectionScope none = ConnectionScope.none();
        assertThat(none.keep("caller", () -> { })).isFalse();
        assertThat(none.size()).isZero();
    }
}
