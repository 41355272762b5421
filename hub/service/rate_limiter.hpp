// Per-agency request rate: a token bucket per key, with the rate and burst given at each request
// (an agency's mapping may set its own, and a reload may change them). Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

namespace dh::service {

class RateLimiter {
 public:
  // 0 when the request may go now (a token is taken); else how long until one is free. A new key
  // starts with a full bucket.
  std::chrono::milliseconds acquire(const std::string& key, double rate, double burst,
                                    std::chrono::steady_clock::time_point now);

 private:
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point at;
  };
  std::mutex mutex_;
  std::map<std::string, Bucket, std::less<>> buckets_;
};

}  // namespace dh::service
