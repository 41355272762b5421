#include "hub/dispatcher/backoff.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>

namespace dh::dispatcher {

Random default_random() {
  auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
  return [engine] { return std::uniform_real_distribution<double>(0.0, 1.0)(*engine); };
}

Backoff::Backoff(config::Backoff settings, Random random) : settings_(settings), random_(std::move(random)) {
  if (!random_) random_ = default_random();
}

std::chrono::milliseconds Backoff::delay(int attempts) const {
  const double initial = static_cast<double>(settings_.initial.count());
  const double max = static_cast<double>(settings_.max.count());
  const int exponent = std::max(0, attempts - 1);
  // pow in doubles, capped before it can overflow anything.
  const double base = std::min(max, initial * std::pow(std::max(1.0, settings_.multiplier), exponent));
  const double u = std::clamp(random_(), 0.0, 1.0);
  const double jittered = base * (1.0 + settings_.jitter * (2.0 * u - 1.0));
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(std::max(0.0, jittered))));
}

}  // namespace dh::dispatcher
