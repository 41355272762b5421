#include "hub/dispatcher/dispatcher.hpp"

#include "hub/common/await_done.hpp"
#include "hub/connectors/outcome.hpp"
#include "hub/observability/log.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <exception>

namespace dh::dispatcher {

namespace asio = boost::asio;
using connectors::Classification;
using connectors::Outcome;
constexpr auto nothrow = asio::experimental::as_tuple(asio::use_awaitable);

namespace {

Timestamp to_timestamp(std::chrono::system_clock::time_point t) {
  return Timestamp::from_system(t);
}

std::string_view kind_name(store::OutboxKind k) {
  return k == store::OutboxKind::postal_order ? "postal_order" : "agency_callback";
}

// Logging lives outside the coroutine: GCC 12 miscompiles initializer lists in coroutine frames.
// Ids, codes and the classifier's safe reason only: bodies hold personal data.
void log_dispatch(const store::OutboxEntry& entry, const Attempt& a, std::string_view action,
                  const std::string& delay_ms) {
  const std::string attempt = std::to_string(entry.attempts + 1);
  const Classification& c = a.classification;
  const bool well = a.handed_over || c.outcome == Outcome::delivered;
  obs::Log::write(well ? obs::Level::info : obs::Level::warn, "dispatch",
                  {{"outbox_id", entry.id},
                   {"hub_id", entry.hub_id},
                   {"kind", kind_name(entry.kind)},
                   {"target", entry.target},
                   {"attempt", attempt},
                   {"status", a.status},
                   {"error", a.error},
                   {"outcome", a.handed_over ? std::string_view("handed_over") : connectors::to_string(c.outcome)},
                   {"action", action},
                   {"delay_ms", delay_ms},
                   {"reason", a.handed_over ? std::string("handed over; answer within ") +
                                                  std::to_string(a.answer_within.count()) + " ms"
                                            : c.reason}});
}

void log_write_failed(const store::OutboxEntry& entry, std::string_view action, const std::string& error) {
  obs::Log::error("outbox_write_failed", {{"outbox_id", entry.id}, {"action", action}, {"error", error}});
}

void log_claim_failed(const std::string& error) {
  obs::Log::error("outbox_claim_failed", {{"error", error}});
}

void log_breaker(const std::string& target, CircuitBreaker::State from, CircuitBreaker::State to) {
  obs::Log::warn("breaker", {{"target", target}, {"from", to_string(from)}, {"to", to_string(to)}});
}

}  // namespace

asio::awaitable<Attempt> HttpsConnector::send(const store::OutboxEntry& entry) {
  std::optional<Destination> to = resolve_ ? resolve_(entry) : std::nullopt;
  if (!to) to = Destination{entry.url, {}};
  to->headers.emplace_back("Idempotency-Key", entry.id);
  connectors::HttpResult answer =
      co_await client_.post(std::move(to->url), entry.content_type, entry.payload, std::move(to->headers));
  Attempt a;
  a.classification = entry.kind == store::OutboxKind::postal_order
                         ? connectors::classify_postal_intake(answer, now_())
                         : connectors::classify_agency_callback(answer, now_());
  if (answer.answered()) a.status = std::to_string(answer.status);
  if (answer.error) a.error = std::string(connectors::to_string(*answer.error));
  co_return a;
}

struct Dispatcher::TargetMetrics {
  obs::Counter* delivered;
  obs::Counter* handed_over;
  obs::Counter* retry;
  obs::Counter* reject;
  obs::Counter* dead_letters;
  obs::Histogram* seconds;
  obs::Gauge* breaker_open;
};

Dispatcher::Dispatcher(asio::io_context& io, store::Store& store, connectors::HttpClient& client,
                       config::Dispatcher settings, obs::Registry& metrics, Clocks clocks, Random random)
    : strand_(asio::make_strand(io)),
      store_(store),
      settings_(settings),
      metrics_(metrics),
      clocks_(std::move(clocks)),
      backoff_(settings.backoff, std::move(random)),
      https_(client, [this] { return clocks_.system(); }),
      wake_(strand_),
      depth_(metrics.gauge("dossier_hub_outbox_depth", "Outbox entries not yet delivered or given up")) {
  if (!clocks_.system) clocks_.system = std::chrono::system_clock::now;
  if (!clocks_.steady) clocks_.steady = std::chrono::steady_clock::now;
  settings_.concurrency = std::max<std::size_t>(1, settings_.concurrency);
  settings_.batch = std::max<std::size_t>(1, settings_.batch);
  settings_.max_attempts = std::max(1, settings_.max_attempts);
}

Dispatcher::~Dispatcher() = default;

void Dispatcher::use_connector(std::string target, Connector& connector) {
  connectors_.insert_or_assign(std::move(target), &connector);
}

Connector& Dispatcher::connector_for(const std::string& target) {
  const auto it = connectors_.find(target);
  return it == connectors_.end() ? static_cast<Connector&>(https_) : *it->second;
}

void Dispatcher::start() {
  asio::post(strand_, [this] {
    if (started_ || stopping_) return;
    started_ = true;
    obs::Log::info("dispatcher_started", {{"concurrency", std::to_string(settings_.concurrency)},
                                          {"max_attempts", std::to_string(settings_.max_attempts)}});
    asio::co_spawn(strand_, run(), [this](std::exception_ptr e) {
      loop_done_ = true;
      if (e) {
        obs::Log::error("dispatcher_failed", {});
        std::rethrow_exception(e);  // cannot happen: nothing on this path throws
      }
      maybe_stopped();
    });
  });
}

void Dispatcher::start_queue_mode(std::chrono::milliseconds retry_slack) {
  asio::post(strand_, [this, retry_slack] {
    if (started_ || stopping_) return;
    started_ = true;
    loop_done_ = true;  // there is no claim loop to wait for at stop()
    retry_slack_ = retry_slack;
    obs::Log::info("dispatcher_started", {{"mode", "queue"}, {"max_attempts", std::to_string(settings_.max_attempts)}});
  });
}

void Dispatcher::dispatch(store::OutboxEntry entry, Settle settle) {
  asio::post(strand_, [this, entry = std::move(entry), settle = std::move(settle)]() mutable {
    refresh_depth(false);  // no claim loop here to keep the gauge current (at most once a second)
    if (stopping_) {       // not sent: the queue hands it out again (here after a restart, or elsewhere)
      settle({Settlement::What::deferred, std::chrono::milliseconds(0), "stopping"});
      return;
    }
    CircuitBreaker& b = breaker(entry.target);
    bool allowed = false;
    {
      std::lock_guard lock(breakers_mutex_);
      allowed = b.allow();
    }
    if (!allowed) {
      settle({Settlement::What::deferred, settings_.breaker.open_for, "circuit breaker open"});
      return;
    }
    ++in_flight_;
    ++sending_;
    asio::co_spawn(strand_, send(std::move(entry)),
                   [settle = std::move(settle)](std::exception_ptr e, Settlement result) {
                     if (e) {
                       obs::Log::error("dispatch_failed", {});
                       std::rethrow_exception(e);  // cannot happen: nothing on this path throws
                     }
                     settle(std::move(result));
                   });
  });
}

void Dispatcher::record_reply(store::OutboxEntry entry, Attempt answer, Settle done) {
  asio::post(strand_, [this, entry = std::move(entry), answer = std::move(answer), done = std::move(done)]() mutable {
    ++in_flight_;  // stop() waits for the store to take it
    asio::co_spawn(strand_, reply(std::move(entry), std::move(answer)),
                   [done = std::move(done)](std::exception_ptr e, Settlement result) {
                     if (e) {
                       obs::Log::error("dispatch_failed", {});
                       std::rethrow_exception(e);  // cannot happen: nothing on this path throws
                     }
                     done(std::move(result));
                   });
  });
}

void Dispatcher::stop(std::function<void()> on_stopped) {
  asio::post(strand_, [this, cb = std::move(on_stopped)]() mutable {
    stopping_ = true;
    on_stopped_ = std::move(cb);
    if (!started_) loop_done_ = true;
    wake_.cancel();
    maybe_stopped();
  });
}

void Dispatcher::maybe_stopped() {
  if (!stopping_ || !loop_done_ || in_flight_.load() != 0 || !on_stopped_) return;
  obs::Log::info("dispatcher_stopped", {});
  auto cb = std::move(on_stopped_);
  on_stopped_ = nullptr;
  cb();
}

CircuitBreaker::State Dispatcher::breaker_state(std::string_view target) const {
  std::lock_guard lock(breakers_mutex_);
  auto it = breakers_.find(target);
  return it == breakers_.end() ? CircuitBreaker::State::closed : it->second.state();
}

CircuitBreaker& Dispatcher::breaker(const std::string& target) {
  std::lock_guard lock(breakers_mutex_);
  auto it = breakers_.find(target);
  if (it == breakers_.end()) it = breakers_.emplace(target, CircuitBreaker(settings_.breaker, clocks_.steady)).first;
  return it->second;
}

Dispatcher::TargetMetrics& Dispatcher::metrics_for(const std::string& target) {
  auto it = target_metrics_.find(target);
  if (it != target_metrics_.end()) return *it->second;
  auto m = std::make_unique<TargetMetrics>();
  const char* total_help = "Delivery attempts by target and outcome (delivered, retry, reject, handed_over)";
  m->delivered =
      &metrics_.counter("dossier_hub_dispatch_total", total_help, {{"target", target}, {"outcome", "delivered"}});
  m->handed_over =
      &metrics_.counter("dossier_hub_dispatch_total", total_help, {{"target", target}, {"outcome", "handed_over"}});
  m->retry = &metrics_.counter("dossier_hub_dispatch_total", total_help, {{"target", target}, {"outcome", "retry"}});
  m->reject = &metrics_.counter("dossier_hub_dispatch_total", total_help, {{"target", target}, {"outcome", "reject"}});
  m->dead_letters = &metrics_.counter("dossier_hub_dead_letters_total", "Outbox entries given up (dead letters)",
                                      {{"target", target}});
  m->seconds = &metrics_.histogram("dossier_hub_dispatch_seconds", "Time of one delivery attempt, in seconds",
                                   {{"target", target}});
  m->breaker_open = &metrics_.gauge("dossier_hub_breaker_open", "1 while the circuit breaker of the target is open",
                                    {{"target", target}});
  return *target_metrics_.emplace(target, std::move(m)).first->second;
}

void Dispatcher::refresh_depth(bool force) {
  // Counting the outbox reads all of it: under a backlog of hundreds of thousands of entries,
  // doing it after every claim cost the workers more than the sending did (load benchmark), so
  // the gauge is refreshed at most once a second.
  const auto now = clocks_.steady();
  const auto every = std::max<std::chrono::steady_clock::duration>(settings_.poll, std::chrono::seconds(1));
  if (!force && now - depth_at_ < every) return;
  depth_at_ = now;
  if (auto depth = store_.outbox_depth()) depth_.set(static_cast<double>(*depth));
}

asio::awaitable<void> Dispatcher::run() {
  while (!stopping_) {
    refresh_depth(false);
    if (sending_ >= settings_.concurrency || in_flight_.load() >= taken_limit()) {  // a finished one wakes us
      waiting_for_room_ = true;
      wake_.expires_after(settings_.poll);
      co_await wake_.async_wait(nothrow);
      waiting_for_room_ = false;
      continue;
    }
    const std::size_t room =
        std::min({settings_.batch, settings_.concurrency - sending_, taken_limit() - in_flight_.load()});
    const Timestamp now = to_timestamp(clocks_.system());
    // Targets whose breaker is not closed are left alone; those due for a trial get one entry
    // each, claimed on its own below, so that the trial is the only request they see.
    std::vector<std::string> skip;
    std::vector<std::string> trials;
    std::vector<std::string> known;
    {
      std::lock_guard lock(breakers_mutex_);
      for (const auto& [target, b] : breakers_) {
        known.push_back(target);
        if (b.state() == CircuitBreaker::State::closed) continue;
        skip.push_back(target);
        if (b.trial_due()) trials.push_back(target);
      }
    }
    // Entries claimed are sent even if stop() came meanwhile: they are leased, and stop() waits
    // for the requests in flight anyway.
    auto claimed = co_await claim(now, room, std::move(skip));
    if (!claimed) {
      log_claim_failed(claimed.error().message);
      wake_.expires_after(settings_.poll);
      co_await wake_.async_wait(nothrow);
      continue;
    }
    const std::size_t got = claimed->size();
    for (auto& e : *claimed) launch(std::move(e));
    for (const auto& target : trials) {
      if (sending_ >= settings_.concurrency) break;
      std::vector<std::string> others;
      for (const auto& k : known)
        if (k != target) others.push_back(k);
      auto one = co_await claim(now, 1, std::move(others));
      if (one)
        for (auto& e : *one) launch(std::move(e));
    }
    if (got > 0) refresh_depth(false);
    if (got == room) continue;  // there may be more: look again at once
    wake_.expires_after(settings_.poll);
    co_await wake_.async_wait(nothrow);
  }
}

asio::awaitable<dh::Outcome<std::vector<store::OutboxEntry>>> Dispatcher::claim(Timestamp now, std::size_t limit,
                                                                                std::vector<std::string> skip) {
  co_return co_await await_done_tracked<std::vector<store::OutboxEntry>>(
      [&](store::Done<std::vector<store::OutboxEntry>> done) {
        store_.claim_async(now, settings_.lease, limit, std::move(skip), std::move(done));
      });
}

std::size_t Dispatcher::taken_limit() const noexcept {
  return 4 * settings_.concurrency;
}

void Dispatcher::wake_for_room() {
  if (waiting_for_room_) wake_.cancel();
}

void Dispatcher::launch(store::OutboxEntry entry) {
  CircuitBreaker& b = breaker(entry.target);
  bool allowed = false;
  {
    std::lock_guard lock(breakers_mutex_);
    allowed = b.allow();
  }
  if (!allowed) {
    // Left leased: claimed again when the lease expires, without an attempt counted.
    obs::Log::debug("dispatch_deferred", {{"outbox_id", entry.id}, {"target", entry.target}, {"reason", "breaker"}});
    return;
  }
  ++in_flight_;
  ++sending_;
  asio::co_spawn(strand_, send(std::move(entry)), [](std::exception_ptr e, const Settlement&) {
    if (e) {
      obs::Log::error("dispatch_failed", {});
      std::rethrow_exception(e);  // cannot happen: nothing on this path throws
    }
  });
}

asio::awaitable<Dispatcher::Settlement> Dispatcher::send(store::OutboxEntry entry) {
  TargetMetrics& m = metrics_for(entry.target);
  const auto started = clocks_.steady();
  const Attempt attempt = co_await connector_for(entry.target).send(entry);
  m.seconds->observe(std::chrono::duration<double>(clocks_.steady() - started).count());
  // The request is done: its place goes to the next one while the outcome is committed (a
  // commit waits for the store's next fsync, often longer than the request took).
  --sending_;
  wake_for_room();
  Settlement settled;
  if (attempt.handed_over)
    settled = hand_over(entry, attempt);
  else
    settled = co_await record(entry, attempt, retry_slack_);
  finished_one();
  co_return settled;
}

asio::awaitable<Dispatcher::Settlement> Dispatcher::reply(store::OutboxEntry entry, Attempt answer) {
  // No slack: the work queue (shared mode) no longer holds the entry, so the store's due time is
  // what brings it back, through the relay.
  Settlement settled = co_await record(entry, answer, std::chrono::milliseconds(0));
  finished_one();
  co_return settled;
}

void Dispatcher::finished_one() {
  --in_flight_;
  wake_for_room();
  maybe_stopped();
}

// The breaker counts what says the target is unwell; an answer it refuses still shows it is up.
void Dispatcher::note_breaker(const std::string& target, bool failed) {
  CircuitBreaker& b = breaker(target);
  CircuitBreaker::State before{};
  CircuitBreaker::State after{};
  {
    std::lock_guard lock(breakers_mutex_);
    before = b.state();
    if (failed)
      b.failure();
    else
      b.success();
    after = b.state();
  }
  metrics_for(target).breaker_open->set(after == CircuitBreaker::State::closed ? 0 : 1);
  if (before != after) log_breaker(target, before, after);
}

Dispatcher::Settlement Dispatcher::hand_over(const store::OutboxEntry& entry, const Attempt& attempt) {
  metrics_for(entry.target).handed_over->inc();
  note_breaker(entry.target, false);
  log_dispatch(entry, attempt, "handed_over", "");
  // Not delivered yet: the entry stays leased while the answer may come; when none came by then,
  // it is claimed (and sent) again, which the target deduplicates by the entry id. Not awaited:
  // should the write fail or come late, the claim's own lease runs out first and the entry is
  // sent again, a duplicate the target absorbs.
  const auto until = to_timestamp(clocks_.system() + attempt.answer_within);
  store_.extend_leases(std::vector<std::string>(1, entry.id), until, [id = entry.id](dh::Outcome<void> r) {
    if (!r)
      obs::Log::error("outbox_write_failed",
                      {{"outbox_id", id}, {"action", "extend_lease"}, {"error", r.error().message}});
  });
  Settlement settled;
  settled.what = Settlement::What::handed_over;
  settled.reason = "handed over";
  return settled;
}

asio::awaitable<Dispatcher::Settlement> Dispatcher::record(const store::OutboxEntry& entry, const Attempt& attempt,
                                                           std::chrono::milliseconds slack) {
  TargetMetrics& m = metrics_for(entry.target);
  const auto now = clocks_.system();
  const Classification& c = attempt.classification;
  note_breaker(entry.target, c.outcome == Outcome::retry);

  const int attempt_no = entry.attempts + 1;
  dh::Outcome<void> recorded;
  std::string_view action;
  std::string delay_ms;
  Settlement settled;
  settled.reason = c.reason;
  switch (c.outcome) {
    case Outcome::delivered:
      m.delivered->inc();
      action = "delivered";
      settled.what = Settlement::What::delivered;
      recorded = co_await await_done_tracked<void>([&](store::Done<void> done) {
        store_.delivered(entry, store::Delivered{c.item_code}, to_timestamp(now), report_ordered_, std::move(done));
      });
      break;
    case Outcome::retry:
      m.retry->inc();
      if (attempt_no >= settings_.max_attempts) {
        m.dead_letters->inc();
        action = "dead_letter";
        settled.what = Settlement::What::dead_lettered;
        recorded = co_await await_done_tracked<void>([&](store::Done<void> done) {
          store_.dead_letter(entry, "gave up after " + std::to_string(attempt_no) + " attempts; last: " + c.reason,
                             to_timestamp(now), std::move(done));
        });
      } else {
        auto delay = backoff_.delay(attempt_no);
        delay = std::max(delay, std::min(c.min_delay, settings_.backoff.max));  // Retry-After, within reason
        delay_ms = std::to_string(delay.count());
        action = "retry_later";
        settled.what = Settlement::What::retry;
        settled.delay = delay;
        recorded = co_await await_done_tracked<void>([&](store::Done<void> done) {
          store_.retry_later(entry, to_timestamp(now + delay + slack), c.reason, std::move(done));
        });
      }
      break;
    case Outcome::reject:
      m.reject->inc();
      m.dead_letters->inc();
      action = "dead_letter";
      settled.what = Settlement::What::dead_lettered;
      recorded = co_await await_done_tracked<void>([&](store::Done<void> done) {
        store_.dead_letter(entry, "rejected: " + c.reason, to_timestamp(now), std::move(done));
      });
      break;
  }
  log_dispatch(entry, attempt, action, delay_ms);
  if (!recorded) {
    log_write_failed(entry, action, recorded.error().message);
    settled = {Settlement::What::unrecorded, settings_.backoff.initial, "the store did not record the outcome"};
  }
  co_return settled;
}

}  // namespace dh::dispatcher
