// The dispatcher: takes due work from the store's outbox and sends it (intake orders to the postal
// core, status callbacks to agencies), then records what happened. It owns retries: backoff with
// jitter, a retry limit, dead letters, and a circuit breaker per target; connectors only classify.
//
// Delivery semantics: at least once per outbox entry. An entry is claimed with a lease, sent with
// `Idempotency-Key: <entry id>` (the partner deduplicates by it), and only then delivered(),
// retry_later() or dead_letter() in the store. A crash, a failed store write or an entry left
// unsent (its target's breaker refused it) leaves the entry leased: it is claimed again when the
// lease expires. A retry is due after backoff(attempt), or after the partner's Retry-After when that
// is longer (capped at backoff.max); the entry goes to dead letters on a reject, or when its
// attempts reach max_attempts. Keep every request timeout well below the lease: an entry whose
// request outlives its lease may be claimed and sent a second time (harmless with the key, but
// wasted).
//
// Each target's entries go through its connector (connector.hpp): HTTPS unless use_connector()
// names another for it (a postal endpoint on AMQP). An entry a connector handed over (the target
// answers later) stays leased for the connector's answer time, and record_reply() records the
// answer when it comes, by the same rules as an answer that came at once.
//
// Threading: everything runs on one strand of the given io_context; the HTTP client is used only
// from it (give the dispatcher a client of its own). Store completions arrive on the store's
// writer thread and are posted back to the strand. start() and stop() may be called from any thread.
#pragma once

#include "hub/config/hub_config.hpp"
#include "hub/connectors/https_client.hpp"
#include "hub/dispatcher/backoff.hpp"
#include "hub/dispatcher/circuit_breaker.hpp"
#include "hub/dispatcher/connector.hpp"
#include "hub/observability/metrics.hpp"
#include "hub/store/store.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace dh::dispatcher {

struct Clocks {
  std::function<std::chrono::system_clock::time_point()> system = std::chrono::system_clock::now;  // due times
  SteadyClock steady = std::chrono::steady_clock::now;                                             // breakers
};

class Dispatcher {
 public:
  Dispatcher(boost::asio::io_context& io, store::Store& store, connectors::HttpClient& client,
             config::Dispatcher settings, obs::Registry& metrics, Clocks clocks = {}, Random random = default_random());
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Entries whose target is `target` go through `connector` (which outlives the dispatcher's
  // work) instead of HTTPS. Before start() / start_queue_mode().
  void use_connector(std::string target, Connector& connector);
  // Where HTTPS entries are sent: the resolver's destination, so that a postal endpoint or an
  // agency callback moved in the configuration takes the entries already queued along; the URL an
  // entry was queued with when it answers nullopt. Before start() / start_queue_mode().
  void resolve_destinations(DestinationResolver resolve) { https_.resolve_destinations(std::move(resolve)); }
  // The agency callbacks to commit when a delivered order moves its dossier to `ordered` (the
  // service renders them with the agency's mapping). Without one, the move queues none.
  // Before start() / start_queue_mode().
  void report_ordered(store::CallbackMaker make) { report_ordered_ = std::move(make); }

  // Starts the loop: claims due entries, sends up to `concurrency` at once, polls every `poll`
  // when there is nothing to do and loops at once while there is. A request's place is free again
  // when its answer came; its outcome is then committed while others are sent (at most
  // 4 x `concurrency` entries taken and not yet settled at once).
  void start();

  // ---- queue mode (shared mode with RabbitMQ, hub/queue/): the work queue hands out the
  // entries, so there is no claim loop; each delivery comes through dispatch() and is sent and
  // recorded in the store exactly as in claim mode, then `settle` says what became of it (on the
  // dispatcher's strand), for the queue to ack, delay or dead-letter the delivery. The consumer's
  // prefetch bounds the requests in flight here; `concurrency` and `batch` are the claim loop's.
  struct Settlement {
    enum class What {
      delivered,      // recorded as delivered: ack
      retry,          // recorded as a failed attempt: deliver again after `delay`
      dead_lettered,  // recorded as a dead letter: reject to the queue's dead letters
      deferred,       // not sent (the target's breaker is open): again after `delay`, no attempt counted
      unrecorded,     // the store did not take the outcome: again after `delay`
      handed_over,    // the target took it and answers later (its lease was extended): ack
    };
    What what = What::delivered;
    std::chrono::milliseconds delay{0};
    std::string reason;  // safe text
  };
  using Settle = std::function<void(Settlement)>;
  // Queue mode instead of start(). A retry is recorded in the store as due `retry_slack` after the
  // queue's delay: the queue brings the entry back after the delay, and the store's due time is
  // only the safety net for an entry the queue lost (the relay publishes it again then).
  void start_queue_mode(std::chrono::milliseconds retry_slack);
  // Any thread. Sends the entry (a work queue delivery) and records its outcome, then settles it.
  void dispatch(store::OutboxEntry entry, Settle settle);
  // Any thread. The answer to an entry a connector handed over (the entry as the store has it
  // now), recorded exactly as an answer that came at once would be: delivered, retried later (due
  // after the backoff) or given up, with the same metrics, breaker and audit. `done` runs on the
  // dispatcher's strand once the store took the outcome (or did not: unrecorded).
  void record_reply(store::OutboxEntry entry, Attempt answer, Settle done);
  // Stops claiming; requests in flight finish (each bounded by its timeout) and their outcome is
  // recorded; then `on_stopped` runs on the dispatcher's strand (at once when never started).
  void stop(std::function<void()> on_stopped = {});

  [[nodiscard]] std::size_t in_flight() const noexcept { return in_flight_.load(); }
  // The breaker of a target as it is now (closed for a target never seen).
  [[nodiscard]] CircuitBreaker::State breaker_state(std::string_view target) const;

 private:
  struct TargetMetrics;
  boost::asio::awaitable<void> run();
  boost::asio::awaitable<dh::Outcome<std::vector<store::OutboxEntry>>> claim(Timestamp now, std::size_t limit,
                                                                             std::vector<std::string> skip);
  [[nodiscard]] std::size_t taken_limit() const noexcept;
  void wake_for_room();
  boost::asio::awaitable<Settlement> send(store::OutboxEntry entry);
  boost::asio::awaitable<Settlement> reply(store::OutboxEntry entry, Attempt answer);
  // The attempt's outcome in the store, metrics and breaker; a retry is due `slack` after its delay.
  boost::asio::awaitable<Settlement> record(const store::OutboxEntry& entry, const Attempt& attempt,
                                            std::chrono::milliseconds slack);
  Settlement hand_over(const store::OutboxEntry& entry, const Attempt& attempt);
  Connector& connector_for(const std::string& target);
  void note_breaker(const std::string& target, bool failed);
  void finished_one();
  void launch(store::OutboxEntry entry);
  CircuitBreaker& breaker(const std::string& target);
  TargetMetrics& metrics_for(const std::string& target);
  void refresh_depth(bool force);
  void maybe_stopped();

  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  store::Store& store_;
  config::Dispatcher settings_;
  obs::Registry& metrics_;
  Clocks clocks_;
  Backoff backoff_;
  store::CallbackMaker report_ordered_;
  HttpsConnector https_;                                       // every target's, unless...
  std::map<std::string, Connector*, std::less<>> connectors_;  // ...use_connector() named another
  boost::asio::steady_timer wake_;                             // the loop sleeps on it; cancelled to wake it early

  mutable std::mutex breakers_mutex_;  // breaker_state() may be asked from another thread
  std::map<std::string, CircuitBreaker, std::less<>> breakers_;
  std::map<std::string, std::unique_ptr<TargetMetrics>, std::less<>> target_metrics_;
  obs::Gauge& depth_;
  std::chrono::steady_clock::time_point depth_at_{};

  // Entries taken and not yet settled: being sent, or their outcome being committed. stop()
  // waits for all of them. The claim loop keeps them at most taken_limit() (4 x `concurrency`),
  // so that a slow store slows the claims, and `sending_` of them, the requests in flight, at
  // most `concurrency`.
  std::atomic<std::size_t> in_flight_{0};
  std::size_t sending_ = 0;                   // on the strand only
  bool waiting_for_room_ = false;             // the loop sleeps until a request or a commit finishes
  std::chrono::milliseconds retry_slack_{0};  // queue mode: see start_queue_mode()
  bool started_ = false;
  bool stopping_ = false;
  bool loop_done_ = false;
  std::function<void()> on_stopped_;
};

}  // namespace dh::dispatcher
