// The per-agency token bucket: the rate and burst of each request's agency, on an injected clock.
#include "hub/service/rate_limiter.hpp"

#include <catch2/catch.hpp>

using namespace dh;
using namespace std::chrono_literals;

TEST_CASE("rate limiter: a burst, then one request per 1/rate, each key on its own", "[rate]") {
  service::RateLimiter limiter;
  const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  for (int i = 0; i < 4; ++i) CHECK(limiter.acquire("a", 2, 4, t0) == 0ms);
  CHECK(limiter.acquire("a", 2, 4, t0) == 500ms);  // empty: the next token in 1/2 s
  CHECK(limiter.acquire("b", 100, 1, t0) == 0ms);  // another agency, its own bucket and rate
  CHECK(limiter.acquire("b", 100, 1, t0) == 10ms);
  CHECK(limiter.acquire("a", 2, 4, t0 + 250ms) == 250ms);
  CHECK(limiter.acquire("a", 2, 4, t0 + 500ms) == 0ms);
  // Idle for long: the bucket fills up to the burst, never beyond.
  const auto later = t0 + 1h;
  for (int i = 0; i < 4; ++i) CHECK(limiter.acquire("a", 2, 4, later) == 0ms);
  CHECK(limiter.acquire("a", 2, 4, later) > 0ms);
}

TEST_CASE("rate limiter: a changed rate (a reloaded mapping) applies from the next request", "[rate]") {
  service::RateLimiter limiter;
  const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  CHECK(limiter.acquire("a", 1, 1, t0) == 0ms);
  CHECK(limiter.acquire("a", 1, 1, t0) == 1000ms);
  CHECK(limiter.acquire("a", 10, 1, t0) == 100ms);  // the new rate refills faster
  CHECK(limiter.acquire("a", 10, 1, t0 + 100ms) == 0ms);
  for (int i = 0; i < 20; ++i) (void)limiter.acquire("a", 10, 2, t0 + 10s);
  CHECK(limiter.acquire("a", 10, 2, t0 + 10s) > 0ms);  // a smaller burst caps the tokens kept
}
