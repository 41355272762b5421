#include "hub/queue/confirmed_publish.hpp"

#include "hub/observability/log.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace dh::queue {

namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

milliseconds remaining(Clock::time_point deadline) {
  return std::max(milliseconds(0), std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
}

milliseconds next_backoff(milliseconds current, const Reconnect& r) {
  return current.count() == 0 ? r.initial : std::min(r.max, current * 2);
}

}  // namespace

Outcome<std::unique_ptr<Connection>> open_with_backoff(std::string_view role, const BrokerAddress& broker,
                                                       const ConnectionOptions& options, ReconnectState& state,
                                                       const Reconnect& reconnect,
                                                       const std::function<Outcome<void>(Connection&)>& prepare) {
  if (Clock::now() < state.next_attempt)
    return make_error("the broker is unavailable; the next connection attempt is in " +
                      std::to_string(remaining(state.next_attempt).count()) + " ms");
  auto c = Connection::open(broker, options);
  Outcome<void> ready = c ? prepare(**c) : Outcome<void>(c.error());
  if (!ready) {
    state.backoff = next_backoff(state.backoff, reconnect);
    state.next_attempt = Clock::now() + state.backoff;
    obs::Log::warn("amqp_connect_failed", {{"role", role},
                                           {"broker", to_display(broker)},
                                           {"error", ready.error().message},
                                           {"retry_in_ms", std::to_string(state.backoff.count())}});
    return ready.error();
  }
  state.backoff = milliseconds(0);
  obs::Log::info("amqp_connected", {{"role", role}, {"broker", to_display(broker)}});
  return std::move(*c);
}

void log_connection_lost(std::string_view role, const BrokerAddress& broker, std::string_view reason) {
  obs::Log::warn("amqp_connection_lost", {{"role", role}, {"broker", to_display(broker)}, {"reason", reason}});
}

ConfirmedBatch publish_confirmed(Connection& c, std::span<const Outgoing> batch, milliseconds confirm_timeout) {
  ConfirmedBatch result;
  auto note = [&](Error e) {
    if (!result.error) result.error = std::move(e);
  };
  if (c.blocked()) {
    // The broker stopped reading from publishers (memory or disk alarm): sending would only fill
    // the socket until the write deadline.
    for (std::size_t i = 0; i < batch.size(); ++i) result.not_confirmed.push_back(i);
    note(make_error("the broker blocks publishing (a memory or disk alarm)"));
    return result;
  }

  std::map<std::uint64_t, std::size_t> outstanding;  // publish sequence -> index in batch
  std::size_t sent = 0;
  for (; sent < batch.size(); ++sent) {
    auto seq = c.publish(batch[sent].exchange, batch[sent].routing_key, batch[sent].message, true);
    if (!seq) {
      note(seq.error());
      break;
    }
    outstanding.emplace(*seq, sent);
  }
  for (std::size_t i = sent; i < batch.size(); ++i) result.not_confirmed.push_back(i);

  std::set<std::string, std::less<>> returned;  // unroutable: a basic.return comes before its ack
  std::size_t refused = 0;
  bool failed = false;  // the connection failed or the deadline passed: stop waiting
  const auto deadline = Clock::now() + confirm_timeout;
  while (!outstanding.empty() && !failed) {
    const auto left = remaining(deadline);
    if (left.count() == 0) {
      note(make_error("no confirm from the broker within " + std::to_string(confirm_timeout.count()) + " ms for " +
                      std::to_string(outstanding.size()) + " publishes"));
      break;
    }
    auto ev = c.wait(left);
    if (!ev) {
      note(ev.error());
      failed = true;
      break;
    }
    if (!*ev) continue;
    if (const auto* ret = std::get_if<Returned>(&**ev)) {
      returned.insert(ret->message.message_id);
      continue;
    }
    const auto* confirm = std::get_if<Confirm>(&**ev);
    if (!confirm) continue;  // a publisher consumes nothing
    ++result.confirm_frames;
    auto first = confirm->multiple ? outstanding.begin() : outstanding.find(confirm->tag);
    auto last =
        confirm->multiple ? outstanding.upper_bound(confirm->tag) : std::next(first, first != outstanding.end());
    for (auto it = first; it != last; ++it) {
      if (confirm->ack && !returned.contains(batch[it->second].message.message_id)) {
        result.confirmed.push_back(it->second);
      } else {
        result.not_confirmed.push_back(it->second);
        ++refused;
      }
    }
    outstanding.erase(first, last);
  }
  for (const auto& [seq, index] : outstanding) result.not_confirmed.push_back(index);
  if (refused > 0)
    note(make_error("the broker refused " + std::to_string(refused) + " publishes (nack, or no queue took them)"));
  return result;
}

}  // namespace dh::queue
