// The connector of a postal endpoint on AMQP: a postal core that consumes intake orders from a
// RabbitMQ queue instead of taking them over HTTPS (docs/operations.md, "A postal core on AMQP";
// the queues and the message: hub/queue/postal_queues.hpp).
//
// Delivery semantics: at least once per order, once per idempotency key at the postal core (it
// deduplicates by message_id, the outbox entry id). send() publishes the order, persistent and
// mandatory, and reports it handed over once the broker confirmed it: the order is in the queue,
// not yet accepted, so the dispatcher keeps the entry leased for `reply_timeout`, after which it is
// claimed and published again unless a reply was recorded. A publish the broker did not confirm
// (nack, returned, confirm timeout, lost connection, broker away) is a failed attempt, like a
// network error: retried with backoff, counted by the breaker. Replies come from the reply queue
// that every hub instance shares (manual acks): each is recorded against its outbox entry through
// Dispatcher::record_reply (the same rules, metrics, breaker and audit as an HTTP answer) and
// acked only after the store took the outcome; one the store did not take goes back to the queue.
// A reply whose entry is gone (already recorded: a repeated reply, or a reply to an order that was
// published twice) is acked and counted; an unreadable one is rejected to `<reply queue>.dead`,
// counted, and logged with the reason (never the body).
//
// Threading: two threads of its own, each owning one connection: the publisher, which takes the
// orders of every send() waiting at that moment and publishes them with one confirm wait (many
// orders in flight do not cost a round trip each), and the reply consumer, which hands up to
// `prefetch` replies to the dispatcher at once and waits for all of them (one group commit). send()
// may be awaited on any executor; it resumes there. Nothing throws after construction.
#pragma once

#include "hub/config/hub_config.hpp"
#include "hub/dispatcher/connector.hpp"
#include "hub/dispatcher/dispatcher.hpp"
#include "hub/observability/metrics.hpp"
#include "hub/queue/amqp.hpp"
#include "hub/queue/confirmed_publish.hpp"
#include "hub/store/store.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace dh::connectors {

struct AmqpPostalOptions {
  std::string endpoint;  // the endpoint's name (routes, metric labels, logs)
  queue::BrokerAddress broker;
  std::string order_queue = "postal.orders";
  std::string reply_queue = "dh.postal.replies";
  std::chrono::milliseconds reply_timeout{15 * 60 * 1000};  // lease of an order handed over
  std::chrono::milliseconds confirm_timeout{5000};          // per publish batch
  std::size_t batch = 256;                                  // orders per confirm wait, at most
  std::uint16_t prefetch = 64;                              // replies unacked at once
  queue::ConnectionOptions connection;                      // its name gets " orders" / " replies"
  queue::Reconnect reconnect;
};

// An amqp:// endpoint of the configuration as the connector's options; `instance` names the
// connections for the broker's listings. Errors only for a URL that does not parse (checked at load).
dh::Outcome<AmqpPostalOptions> amqp_postal_options(std::string name, const config::Endpoint& endpoint,
                                                   std::string_view instance);

class AmqpPostal final : public dispatcher::Connector {
 public:
  AmqpPostal(AmqpPostalOptions options, store::Store& store, obs::Registry& metrics);
  ~AmqpPostal() override;  // stop()
  AmqpPostal(const AmqpPostal&) = delete;
  AmqpPostal& operator=(const AmqpPostal&) = delete;

  // Starts the publisher and the reply consumer; replies are recorded through `dispatcher`, which
  // outlives stop().
  void start(dispatcher::Dispatcher& dispatcher);
  // Ends both threads: orders waiting to be published fail (not confirmed); replies not yet
  // recorded stay unacked and go back to the queue when the connection closes.
  void stop();

  boost::asio::awaitable<dispatcher::Attempt> send(const store::OutboxEntry& entry) override;

  struct Stats {
    std::uint64_t connects = 0;            // both connections, the first ones too
    std::uint64_t batches = 0;             // confirm waits
    std::uint64_t published = 0;           // orders the broker confirmed
    std::uint64_t not_confirmed = 0;       // orders it did not
    std::uint64_t replies_recorded = 0;    // recorded by the dispatcher, then acked
    std::uint64_t replies_unknown = 0;     // for an entry no longer in the outbox: acked
    std::uint64_t replies_unreadable = 0;  // rejected to the dead-letter queue
    std::uint64_t replies_unrecorded = 0;  // the store did not take them: back to the queue
  };
  [[nodiscard]] Stats stats() const;
  // Tests: drop both connections at once, as a network failure would.
  void sever_for_test();

 private:
  struct Order {
    queue::Outgoing message;
    std::function<void(dh::Outcome<void>)> done;  // on the publisher thread
  };
  queue::Outgoing order_outgoing(const store::OutboxEntry& entry) const;
  void publish_loop();
  void reply_loop();
  dh::Outcome<void> settle_replies(queue::Connection& connection, std::vector<queue::Deliver>& replies);
  void pause(std::chrono::milliseconds d);  // interruptible by stop()
  bool stopping() const;

  AmqpPostalOptions options_;
  store::Store& store_;
  dispatcher::Dispatcher* dispatcher_ = nullptr;
  std::thread publisher_;
  std::thread consumer_;
  mutable std::mutex mutex_;  // guards what follows
  std::condition_variable cv_;
  std::deque<Order> orders_;
  bool stopping_ = false;
  Stats stats_;
  std::atomic<bool> sever_orders_{false};  // tests: drop the connection at its owner's next turn
  std::atomic<bool> sever_replies_{false};
  obs::Counter& published_total_;
  obs::Counter& not_confirmed_total_;
  obs::Counter& replies_recorded_total_;
  obs::Counter& replies_unknown_total_;
  obs::Counter& replies_unreadable_total_;
  obs::Counter& replies_unrecorded_total_;
};

}  // namespace dh::connectors
