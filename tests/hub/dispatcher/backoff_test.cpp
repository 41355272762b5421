#include "hub/dispatcher/backoff.hpp"

#include <catch2/catch.hpp>

using dh::dispatcher::Backoff;
using namespace std::chrono_literals;

namespace {

dh::config::Backoff settings(double jitter) {
  dh::config::Backoff b;
  b.initial = 1000ms;
  b.max = 60000ms;
  b.multiplier = 2.0;
  b.jitter = jitter;
  return b;
}

}  // namespace

TEST_CASE("backoff grows by the multiplier from the initial delay and stops at the maximum", "[backoff]") {
  const Backoff b(settings(0.0), [] { return 0.5; });
  CHECK(b.delay(1) == 1000ms);
  CHECK(b.delay(2) == 2000ms);
  CHECK(b.delay(3) == 4000ms);
  CHECK(b.delay(6) == 32000ms);
  CHECK(b.delay(7) == 60000ms);
  CHECK(b.delay(1000) == 60000ms);  // no overflow however many attempts
  CHECK(b.delay(0) == 1000ms);      // nonsense in, the first delay out
}

TEST_CASE("backoff jitter spreads the delay by +- the fraction, from the injected source", "[backoff]") {
  CHECK(Backoff(settings(0.2), [] { return 0.0; }).delay(3) == 3200ms);   // -20 %
  CHECK(Backoff(settings(0.2), [] { return 0.5; }).delay(3) == 4000ms);   // middle
  CHECK(Backoff(settings(0.2), [] { return 0.75; }).delay(3) == 4400ms);  // +10 %
  // The cap applies before the jitter: at the maximum, delays still spread.
  CHECK(Backoff(settings(0.2), [] { return 0.0; }).delay(20) == 48000ms);
  CHECK(Backoff(settings(0.2), [] { return 0.999999; }).delay(20) == 72000ms);
}

TEST_CASE("backoff with the default random source stays within the jitter band", "[backoff]") {
  const Backoff b(settings(0.5));
  for (int i = 0; i < 1000; ++i) {
    const auto d = b.delay(2);
    REQUIRE(d >= 1000ms);
    REQUIRE(d <= 3000ms);
  }
}
