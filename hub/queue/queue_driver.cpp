#include "hub/queue/queue_driver.hpp"

#include "hub/observability/log.hpp"

#include <algorithm>
#include <future>
#include <memory>
#include <pthread.h>
#include <set>

namespace dh::queue {

using Settlement = dispatcher::Dispatcher::Settlement;

namespace {

// Errors repeat while the broker is away: one line per kind of failure per `every`, not one per
// attempt, so that an outage does not flood the log.
class Throttled {
 public:
  explicit Throttled(std::chrono::seconds every) : every_(every) {}
  bool due() {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < every_) return false;
    last_ = now;
    return true;
  }

 private:
  std::chrono::seconds every_;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace

QueueDriver::QueueDriver(store::Store& store, dispatcher::Dispatcher& dispatcher, QueueSettings settings,
                         DriverOptions options, obs::Registry& metrics)
    : store_(store),
      dispatcher_(dispatcher),
      settings_(std::move(settings)),
      options_(options),
      published_total_(metrics.counter("dossier_hub_queue_published_total",
                                       "Outbox entries the work queue's broker confirmed (shared mode)")),
      not_confirmed_total_(metrics.counter("dossier_hub_queue_not_confirmed_total",
                                           "Publishes the broker did not confirm, to be published again")),
      deliveries_total_(
          metrics.counter("dossier_hub_queue_deliveries_total", "Work queue deliveries handed to this instance")),
      settle_failures_total_(metrics.counter("dossier_hub_queue_settle_failures_total",
                                             "Settlements whose delivery was gone (it is handed out again)")) {
  publisher_ = std::make_unique<WorkPublisher>(settings_.broker, settings_.topology, settings_.publisher);
  consumer_ = std::make_unique<WorkConsumer>(settings_.broker, settings_.topology, settings_.consumer);
}

QueueDriver::~QueueDriver() {
  stop();
}

void QueueDriver::start() {
  relay_ = std::thread([this] { relay_loop(); });
  consumer_thread_ = std::thread([this] { consume_loop(); });
}

void QueueDriver::stop() {
  {
    std::lock_guard lock(m_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (relay_.joinable()) relay_.join();
  if (consumer_thread_.joinable()) consumer_thread_.join();
}

void QueueDriver::pause(std::chrono::milliseconds d) {
  std::unique_lock lock(m_);
  cv_.wait_for(lock, d, [this] { return stopping_; });
}

void QueueDriver::relay_loop() {
  pthread_setname_np(pthread_self(), "dh-queue-relay");
  Throttled claim_log(std::chrono::seconds(10)), publish_log(std::chrono::seconds(10));
  // Claimed (leased to this instance) and not yet confirmed by the broker: published again first;
  // nothing new is claimed meanwhile, so a broker outage holds one batch, not the outbox.
  std::vector<store::OutboxEntry> pending;
  for (;;) {
    {
      std::lock_guard lock(m_);
      if (stopping_) return;
    }
    if (pending.empty()) {
      auto claimed = store_.claim(Timestamp::from_system(std::chrono::system_clock::now()), options_.publish_lease,
                                  settings_.publisher.batch, {});
      if (!claimed) {
        if (claim_log.due()) obs::Log::error("relay_claim_failed", {{"error", claimed.error().message}});
        pause(options_.poll);
        continue;
      }
      if (claimed->empty()) {
        (void)publisher_->keep_alive();  // heartbeats while idle; a dead connection is reopened later
        pause(options_.poll);
        continue;
      }
      pending = std::move(*claimed);
    }
    PublishResult r = publisher_->publish(pending);
    published_total_.inc(static_cast<double>(r.confirmed.size()));
    not_confirmed_total_.inc(static_cast<double>(r.not_confirmed.size()));
    if (!r.confirmed.empty()) {
      // The queue has them: leased for republish_after now. Should this fail, they are published
      // a second time when the short lease ends: a duplicate, which the idempotency key absorbs.
      auto until = Timestamp::from_system(std::chrono::system_clock::now() + options_.republish_after);
      auto p = std::make_shared<std::promise<Outcome<void>>>();
      auto f = p->get_future();
      store_.extend_leases(r.confirmed, until, [p](Outcome<void> done) { p->set_value(std::move(done)); });
      if (auto extended = f.get(); !extended && claim_log.due())
        obs::Log::warn("relay_lease_not_extended", {{"error", extended.error().message}});
    }
    if (r.not_confirmed.empty()) {
      pending.clear();
      continue;
    }
    const std::set<std::string> again(r.not_confirmed.begin(), r.not_confirmed.end());
    std::erase_if(pending, [&](const store::OutboxEntry& e) { return !again.contains(e.id); });
    if (publish_log.due())
      obs::Log::warn("relay_publish_failed", {{"not_confirmed", std::to_string(r.not_confirmed.size())},
                                              {"error", r.error ? r.error->message : std::string("not confirmed")}});
    pause(options_.publish_retry);
  }
}

void QueueDriver::consume_loop() {
  pthread_setname_np(pthread_self(), "dh-queue-consume");
  Throttled consume_log(std::chrono::seconds(10));
  WorkConsumer& consumer = *consumer_;
  for (;;) {
    {
      std::lock_guard lock(m_);
      if (stopping_) break;
    }
    auto next = consumer.next(options_.consume_wait);
    if (!next) {  // the connection is gone: its deliveries come back; the next call reconnects
      if (consume_log.due()) obs::Log::warn("queue_consume_failed", {{"error", next.error().message}});
      pause(settings_.consumer.reconnect.initial);
      continue;
    }
    if (!*next) continue;
    deliveries_total_.inc();
    Delivery d = std::move(**next);
    store::OutboxEntry entry = d.entry;
    dispatcher_.dispatch(std::move(entry), [this, &consumer, d = std::move(d)](Settlement s) {
      Outcome<void> sent;
      switch (s.what) {
        case Settlement::What::delivered:
        case Settlement::What::handed_over:  // the postal core's queue has it; its reply settles the entry
          sent = consumer.ack(d);
          break;
        case Settlement::What::retry:
          sent = consumer.retry(d, s.delay, s.reason);
          break;
        case Settlement::What::dead_lettered:
          sent = consumer.dead_letter(d);
          break;
        case Settlement::What::deferred:
        case Settlement::What::unrecorded:
          sent = consumer.postpone(d, s.delay);
          break;
      }
      // A delivery of a connection that is gone: the broker hands it out again, and the store
      // already holds the outcome (delivered() and the rest are idempotent), so this is benign.
      if (!sent) settle_failures_total_.inc();
    });
  }
  // Settlements still queued are sent while the connection is open; the rest is redelivered.
  (void)consumer.flush(std::chrono::seconds(2));
}

}  // namespace dh::queue
