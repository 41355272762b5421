#include "hub/service/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace dh::service {

std::chrono::milliseconds RateLimiter::acquire(const std::string& key, double rate, double burst,
                                               std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto [it, inserted] = buckets_.try_emplace(key, Bucket{burst, now});
  Bucket& b = it->second;
  const double elapsed = std::chrono::duration<double>(now - b.at).count();
  b.tokens = std::min(burst, b.tokens + elapsed * rate);
  b.at = now;
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return std::chrono::milliseconds(0);
  }
  return std::chrono::milliseconds(static_cast<long long>(std::ceil((1.0 - b.tokens) / rate * 1000.0)));
}

}  // namespace dh::service
