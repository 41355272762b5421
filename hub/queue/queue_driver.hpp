// Shared mode with RabbitMQ: moves committed outbox entries through the work queue to the
// dispatchers of every hub instance, and settles each delivery by what the dispatcher recorded.
//
// Delivery semantics: at least once per outbox entry, exactly once per idempotency key downstream.
// The relay claims due entries from the store with a short lease (`publish_lease`) and publishes
// them with publisher confirms; an entry the broker confirmed is then leased for
// `republish_after` (the queue has it); one it did not confirm is published again by this relay,
// or by any instance's once the short lease ends, should this one die. The consumer hands each delivery
// to the dispatcher, which sends it and records the outcome in the store; only then is the
// delivery acked (delivered), copied to a delay queue (retry; the store's due time is the safety
// net, `republish_after` later) or rejected to the dead-letter exchange (dead letter). A delivery
// never settled (the instance died) is redelivered by the broker. The store stays the record: an
// entry leaves the outbox only when it is delivered or dead-lettered there.
//
// Threading: the relay and the consumer each run on a thread of their own, which owns its AMQP
// connection; the dispatcher settles deliveries from its strand (the consumer takes settlements
// from any thread).
#pragma once

#include "hub/dispatcher/dispatcher.hpp"
#include "hub/observability/metrics.hpp"
#include "hub/queue/work_queue.hpp"
#include "hub/store/store.hpp"

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace dh::queue {

struct DriverOptions {
  std::chrono::milliseconds poll{100};            // the relay looks at the outbox this often when idle
  std::chrono::seconds publish_lease{30};         // lease of a claimed entry until the broker confirms it
  std::chrono::seconds republish_after{900};      // lease of a published entry: published again after it
  std::chrono::milliseconds consume_wait{100};    // one wait for a delivery (stop() is noticed after it)
  std::chrono::milliseconds publish_retry{1000};  // after a batch the broker did not take
};

class QueueDriver {
 public:
  // Counts into `metrics` (dossier_hub_queue_*_total): what was published, not confirmed,
  // delivered to this instance, and settlements that found their delivery gone.
  QueueDriver(store::Store& store, dispatcher::Dispatcher& dispatcher, QueueSettings settings, DriverOptions options,
              obs::Registry& metrics);
  ~QueueDriver();  // stop() and wait
  QueueDriver(const QueueDriver&) = delete;
  QueueDriver& operator=(const QueueDriver&) = delete;

  void start();
  // Stops relaying and consuming; deliveries not settled yet go back to the queue when the
  // consumer's connection closes. Returns once both threads have ended.
  void stop();

 private:
  void relay_loop();
  void consume_loop();
  void pause(std::chrono::milliseconds d);  // interruptible by stop()

  store::Store& store_;
  dispatcher::Dispatcher& dispatcher_;
  QueueSettings settings_;
  DriverOptions options_;
  std::unique_ptr<WorkPublisher> publisher_;
  std::unique_ptr<WorkConsumer> consumer_;
  std::thread relay_;
  std::thread consumer_thread_;
  std::mutex m_;
  std::condition_variable cv_;
  bool stopping_ = false;
  obs::Counter& published_total_;
  obs::Counter& not_confirmed_total_;
  obs::Counter& deliveries_total_;
  obs::Counter& settle_failures_total_;
};

}  // namespace dh::queue
