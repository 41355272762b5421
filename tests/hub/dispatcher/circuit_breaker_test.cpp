#include "hub/dispatcher/circuit_breaker.hpp"

#include <catch2/catch.hpp>

using dh::dispatcher::CircuitBreaker;
using State = CircuitBreaker::State;
using namespace std::chrono_literals;

namespace {

struct FakeClock {
  std::chrono::steady_clock::time_point now{};
  dh::dispatcher::SteadyClock fn() {
    return [this] { return now; };
  }
};

CircuitBreaker make(FakeClock& clock) {
  return CircuitBreaker(dh::config::Breaker{3, 30s}, clock.fn());
}

}  // namespace

TEST_CASE("breaker: opens after N consecutive failures, a success in between resets the count", "[breaker]") {
  FakeClock clock;
  auto b = make(clock);
  b.failure();
  b.failure();
  b.success();
  b.failure();
  b.failure();
  CHECK(b.state() == State::closed);
  CHECK(b.allow());
  b.failure();
  CHECK(b.state() == State::open);
  CHECK_FALSE(b.allow());
}

TEST_CASE("breaker: half-open after open_for lets exactly one trial through", "[breaker]") {
  FakeClock clock;
  auto b = make(clock);
  for (int i = 0; i < 3; ++i) b.failure();
  clock.now += 29s;
  CHECK_FALSE(b.trial_due());
  CHECK_FALSE(b.allow());
  clock.now += 1s;
  CHECK(b.trial_due());
  CHECK(b.allow());  // the trial
  CHECK(b.state() == State::half_open);
  CHECK_FALSE(b.allow());  // others wait for it
  CHECK_FALSE(b.allow());
}

TEST_CASE("breaker: the trial's success closes it", "[breaker]") {
  FakeClock clock;
  auto b = make(clock);
  for (int i = 0; i < 3; ++i) b.failure();
  clock.now += 30s;
  REQUIRE(b.allow());
  b.success();
  CHECK(b.state() == State::closed);
  CHECK(b.consecutive_failures() == 0);
  CHECK(b.allow());
  CHECK(b.allow());
}

TEST_CASE("breaker: the trial's failure opens it for another open_for", "[breaker]") {
  FakeClock clock;
  auto b = make(clock);
  for (int i = 0; i < 3; ++i) b.failure();
  clock.now += 30s;
  REQUIRE(b.allow());
  b.failure();
  CHECK(b.state() == State::open);
  clock.now += 29s;
  CHECK_FALSE(b.allow());
  clock.now += 1s;
  CHECK(b.allow());
}

TEST_CASE("breaker: late answers while open change nothing", "[breaker]") {
  FakeClock clock;
  auto b = make(clock);
  for (int i = 0; i < 3; ++i) b.failure();
  b.success();  // a request sent before it opened
  CHECK(b.state() == State::open);
  clock.now += 20s;
  b.failure();  // does not push the reopening further
  clock.now += 10s;
  CHECK(b.allow());
}
