// One circuit breaker per target (postal endpoint or agency): after `failures` consecutive
// failures it opens and the dispatcher leaves the target alone; after `open_for` one trial request
// goes through (half-open); its success closes the breaker, its failure opens it again. A failure
// is what the connector classifies as "retry" (network, 408, 429, 5xx); a delivery or a reject
// shows the target is answering and counts as a success. Not locked: one owner (the dispatcher).
#pragma once

#include "hub/config/hub_config.hpp"

#include <chrono>
#include <functional>
#include <string_view>

namespace dh::dispatcher {

using SteadyClock = std::function<std::chrono::steady_clock::time_point()>;

class CircuitBreaker {
 public:
  enum class State { closed, open, half_open };

  explicit CircuitBreaker(config::Breaker settings, SteadyClock clock = std::chrono::steady_clock::now);

  // Whether a request may go now. Closed: yes. Open: no, until open_for has passed; then the
  // first caller gets the trial (the breaker is half-open) and others are refused until it ends.
  bool allow();
  void success();
  void failure();

  [[nodiscard]] State state() const noexcept { return state_; }
  // Open, and open_for has passed: the next allow() is the trial.
  [[nodiscard]] bool trial_due() const;
  [[nodiscard]] int consecutive_failures() const noexcept { return failures_; }

 private:
  config::Breaker settings_;
  SteadyClock clock_;
  State state_ = State::closed;
  int failures_ = 0;
  std::chrono::steady_clock::time_point opened_at_{};
};

std::string_view to_string(CircuitBreaker::State s) noexcept;

}  // namespace dh::dispatcher
