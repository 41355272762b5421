// How long the dispatcher waits before trying a failed entry again: exponential, capped, with
// jitter so that many entries failing together (an outage) do not come back together.
// delay(n) = min(max, initial * multiplier^(n-1)) * (1 + jitter * u), u uniform in [-1, 1).
#pragma once

#include "hub/config/hub_config.hpp"

#include <chrono>
#include <functional>

namespace dh::dispatcher {

// A source of uniform numbers in [0, 1): injectable so that tests are exact.
using Random = std::function<double()>;
// The default source: a Mersenne Twister seeded from std::random_device.
Random default_random();

class Backoff {
 public:
  explicit Backoff(config::Backoff settings, Random random = default_random());

  // The wait after the `attempts`-th failed attempt (1 for the first failure). Never negative;
  // with jitter it may exceed `max` by the jitter fraction (the cap applies before the jitter).
  [[nodiscard]] std::chrono::milliseconds delay(int attempts) const;

  [[nodiscard]] const config::Backoff& settings() const noexcept { return settings_; }

 private:
  config::Backoff settings_;
  Random random_;
};

}  // namespace dh::dispatcher
