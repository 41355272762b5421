#include "hub/dispatcher/circuit_breaker.hpp"

namespace dh::dispatcher {

CircuitBreaker::CircuitBreaker(config::Breaker settings, SteadyClock clock)
    : settings_(settings), clock_(std::move(clock)) {
  if (!clock_) clock_ = std::chrono::steady_clock::now;
}

bool CircuitBreaker::trial_due() const {
  return state_ == State::open && clock_() - opened_at_ >= settings_.open_for;
}

bool CircuitBreaker::allow() {
  switch (state_) {
    case State::closed:
      return true;
    case State::open:
      if (!trial_due()) return false;
      state_ = State::half_open;  // this caller's request is the trial
      return true;
    case State::half_open:
      return false;  // the trial is still out
  }
  return false;
}

void CircuitBreaker::success() {
  // While open, a late answer to a request sent before it opened proves little: the trial decides.
  if (state_ == State::open) return;
  state_ = State::closed;
  failures_ = 0;
}

void CircuitBreaker::failure() {
  switch (state_) {
    case State::closed:
      if (++failures_ >= settings_.failures) {
        state_ = State::open;
        opened_at_ = clock_();
      }
      break;
    case State::half_open:  // the trial failed: open for another open_for
      ++failures_;
      state_ = State::open;
      opened_at_ = clock_();
      break;
    case State::open:
      break;  // late failures of requests sent before it opened
  }
}

std::string_view to_string(CircuitBreaker::State s) noexcept {
  switch (s) {
    case CircuitBreaker::State::closed:
      return "closed";
    case CircuitBreaker::State::open:
      return "open";
    case CircuitBreaker::State::half_open:
      return "half_open";
  }
  return "closed";
}

}  // namespace dh::dispatcher
