// Shared mode's work distribution over RabbitMQ: committed outbox entries go to a quorum queue,
// consumers in every hub instance take them, and each is acked, retried later or dead-lettered.
//
// Delivery semantics: at least once. publish() reports an entry confirmed only after the broker's
// publisher confirm (the quorum queue has it on a majority's disk); every other entry (nacked,
// returned, unconfirmed when the connection failed or the confirm timeout passed) is reported not
// confirmed and must be published again, which may duplicate it. A delivery not acked (the
// consumer died, its connection dropped) is redelivered, to this or another instance. A retry
// re-publishes the entry to a delay queue and acks the original only once the broker confirmed
// the copy. Consumers must therefore be idempotent: downstream deduplicates by the entry id (the
// Idempotency-Key). Messages are persistent and every queue is a quorum queue; messages that expire
// from a delay queue or are dead-lettered move with x-dead-letter-strategy at-least-once.
//
// Threading: a WorkPublisher and a WorkConsumer each own one connection and belong to one thread
// (its owner), which makes every call but the consumer's ack(), retry() and dead_letter(): those
// may come from any thread; they queue the decision, which the owner sends on its next
// next()/flush(). Nothing throws; every operation returns an error value, and a lost connection is
// opened again (with backoff) by the next call, which declares the topology again.
#pragma once

#include "hub/common/result.hpp"
#include "hub/config/hub_config.hpp"
#include "hub/queue/amqp.hpp"
#include "hub/queue/confirmed_publish.hpp"
#include "hub/store/store.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

namespace dh::queue {

// Names and shapes of the broker objects. Every queue is a durable quorum queue:
//   exchange <p>dh.work (topic) --#--> queue <p>dh.work            (routing key: <kind>.<target>)
//   queue <p>dh.work --reject, delivery limit--> exchange <p>dh.dead (fanout) --> queue <p>dh.dead-letters
//   queue <p>dh.retry.<tier> (x-message-ttl = tier) --expired--> exchange <p>dh.work, key "retry.<tier>"
// `prefix` is empty in production; tests use their own so that they never meet.
struct Topology {
  std::string prefix;
  std::vector<std::chrono::milliseconds> retry_tiers{std::chrono::seconds(1), std::chrono::seconds(5),
                                                     std::chrono::seconds(30), std::chrono::minutes(2),
                                                     std::chrono::minutes(10)};
  // A delivery that many times unsettled (its consumers died or dropped it each time) is poison:
  // the broker dead-letters it instead of handing it out for ever. 0: no limit.
  int delivery_limit = 20;

  [[nodiscard]] std::string work_exchange() const { return prefix + "dh.work"; }
  [[nodiscard]] std::string work_queue() const { return prefix + "dh.work"; }
  [[nodiscard]] std::string dead_exchange() const { return prefix + "dh.dead"; }
  [[nodiscard]] std::string dead_queue() const { return prefix + "dh.dead-letters"; }
  [[nodiscard]] std::string tier_queue(std::chrono::milliseconds tier) const;
  // The smallest tier >= delay; the largest when the delay exceeds them all.
  [[nodiscard]] std::chrono::milliseconds tier_for(std::chrono::milliseconds delay) const;
};

// Declares everything above (idempotent: the same arguments again change nothing; different ones
// are an error naming the object).
Outcome<void> declare_topology(Connection& connection, const Topology& topology);
// Deletes every queue and exchange of the topology, with the messages in them (tests, operators).
Outcome<void> delete_topology(Connection& connection, const Topology& topology);

// The message of an outbox entry, and back: body = payload; message_id = id; content type; headers
// kind, target, hub_id, url, attempts and last_error. Routing key <kind>.<target>.
Message to_message(const store::OutboxEntry& entry);
std::string routing_key_of(const store::OutboxEntry& entry);
// Nullopt for a message that is not an outbox entry (no id, or an unknown kind).
std::optional<store::OutboxEntry> to_entry(const Message& message);

// ---------------------------------------------------------------- publishing

struct PublisherOptions {
  ConnectionOptions connection;
  std::size_t batch = 256;                          // publishes per confirm wait
  std::chrono::milliseconds confirm_timeout{5000};  // per batch
  Reconnect reconnect;
};

struct PublishResult {
  std::vector<std::string> confirmed;      // entry ids the broker has
  std::vector<std::string> not_confirmed;  // publish these again
  std::optional<Error> error;              // why some are not confirmed
};

struct PublisherStats {
  std::uint64_t connects = 0;           // connections opened (the first one too)
  std::uint64_t connection_losses = 0;  // connections found broken
  std::uint64_t batches = 0;            // confirm waits: one per batch, never one per message
  std::uint64_t confirm_frames = 0;     // basic.ack / basic.nack frames received (multiple ones count once)
  std::uint64_t confirmed = 0;
  std::uint64_t not_confirmed = 0;
};

class WorkPublisher {
 public:
  WorkPublisher(BrokerAddress broker, Topology topology, PublisherOptions options);
  ~WorkPublisher();
  WorkPublisher(const WorkPublisher&) = delete;
  WorkPublisher& operator=(const WorkPublisher&) = delete;

  // Publishes the entries to the work exchange, persistent and mandatory, in batches of
  // options.batch: the whole batch is sent, then the broker's confirms are awaited (at most
  // confirm_timeout). Every entry ends in exactly one of the result's two lists.
  PublishResult publish(std::span<const store::OutboxEntry> entries);
  // Connects (declaring the topology) now, if not connected; subject to the reconnect backoff.
  Outcome<void> connect();
  // Services the idle connection (heartbeats; notices a broker that closed it). Call it at least
  // every heartbeat / 2 when there is nothing to publish; a dead connection is reopened by the
  // next publish() anyway.
  Outcome<void> keep_alive();

  [[nodiscard]] const PublisherStats& stats() const noexcept { return stats_; }
  [[nodiscard]] bool connected() const noexcept { return connection_ && !connection_->broken(); }
  [[nodiscard]] bool blocked() const noexcept { return connection_ && connection_->blocked(); }
  // Tests: drop the TCP connection at once.
  void sever_for_test();

 private:
  void lost();
  void publish_batch(std::span<const store::OutboxEntry> batch, PublishResult& result);

  BrokerAddress broker_;
  Topology topology_;
  PublisherOptions options_;
  std::unique_ptr<Connection> connection_;
  ReconnectState reconnect_;
  PublisherStats stats_;
};

// ---------------------------------------------------------------- consuming

struct ConsumerOptions {
  ConnectionOptions connection;
  std::uint16_t prefetch = 64;                      // deliveries unsettled at once (basic.qos)
  std::chrono::milliseconds confirm_timeout{5000};  // for a retry's copy; then the original is requeued
  Reconnect reconnect;
};

struct Delivery {
  store::OutboxEntry entry;      // due_at is when it was delivered
  bool redelivered = false;      // a consumer had it before and did not settle it
  std::uint64_t tag = 0;         // the broker's delivery tag, on connection `generation`
  std::uint64_t generation = 0;  // settling after that connection is gone is an error (it comes back anyway)
};

struct ConsumerStats {
  std::uint64_t connects = 0;
  std::uint64_t connection_losses = 0;
  std::uint64_t deliveries = 0;
  std::uint64_t acks = 0;
  std::uint64_t retries = 0;       // copies confirmed in a delay queue (original acked)
  std::uint64_t dead_letters = 0;  // rejected to the dead-letter queue (malformed ones too)
  std::uint64_t requeued = 0;      // retries whose copy the broker refused: original requeued
};

class WorkConsumer {
 public:
  WorkConsumer(BrokerAddress broker, Topology topology, ConsumerOptions options);
  ~WorkConsumer();  // sends queued settlements (briefly), then closes: unsettled deliveries go back to the queue
  WorkConsumer(const WorkConsumer&) = delete;
  WorkConsumer& operator=(const WorkConsumer&) = delete;

  // Owner thread. Sends queued settlements, then returns the next delivery within `timeout`
  // (nullopt when none came). A lost connection is reported once as an error: every delivery of
  // it is void (the broker hands them out again) and the next call reconnects.
  Outcome<std::optional<Delivery>> next(std::chrono::milliseconds timeout);
  // Owner thread. Sends queued settlements and waits (at most `timeout`) until the broker has
  // confirmed every retry copy; true when nothing is pending any more.
  Outcome<bool> flush(std::chrono::milliseconds timeout);

  // Any thread: the decision for a delivery, sent by the owner's next call. Errors: a delivery
  // already settled, or of a connection that is gone.
  Outcome<void> ack(const Delivery& d);
  // Re-published to the smallest delay tier >= `delay` with attempts + 1 and `last_error` (safe
  // text), the original acked once the copy is confirmed; it comes back after about the tier.
  Outcome<void> retry(const Delivery& d, std::chrono::milliseconds delay, std::string last_error);
  // The same through a delay tier, but not an attempt: it was not tried (an open circuit breaker,
  // a store that did not take the outcome, an instance stopping).
  Outcome<void> postpone(const Delivery& d, std::chrono::milliseconds delay);
  // basic.reject without requeue: the broker moves it to the dead-letter queue.
  Outcome<void> dead_letter(const Delivery& d);

  [[nodiscard]] ConsumerStats stats() const;
  [[nodiscard]] bool connected() const noexcept { return connection_ && !connection_->broken(); }
  // Tests: drop the TCP connection at once.
  void sever_for_test();

 private:
  enum class Decision { ack, retry, dead_letter };
  struct Settlement {
    Decision decision = Decision::ack;
    std::uint64_t tag = 0;
    std::uint64_t generation = 0;
    store::OutboxEntry entry;  // retry: the copy to publish
    std::chrono::milliseconds delay{0};
  };
  struct PendingRetry {
    std::uint64_t original_tag = 0;
    std::string message_id;
    std::chrono::steady_clock::time_point deadline;
  };

  Outcome<void> settle(const Delivery& d, Settlement s);
  Outcome<void> delay_copy(const Delivery& d, std::chrono::milliseconds delay, std::string last_error, int attempts);
  Outcome<void> ensure_connected();
  Outcome<void> send_settlements();
  Outcome<void> handle(Event event);
  Outcome<void> expire_retries();
  Error lost(const Error& why);

  BrokerAddress broker_;
  Topology topology_;
  ConsumerOptions options_;
  std::unique_ptr<Connection> connection_;
  ReconnectState reconnect_;
  std::deque<Delivery> ready_;                     // read while flushing, handed out by next()
  std::map<std::uint64_t, PendingRetry> retries_;  // publish sequence -> the original
  std::set<std::string> returned_;                 // retry copies the broker returned (unroutable)

  mutable std::mutex mutex_;  // guards what other threads touch: below
  std::uint64_t generation_ = 0;
  std::set<std::uint64_t> unsettled_;  // tags of this generation not yet settled
  std::vector<Settlement> queued_;
  ConsumerStats stats_;
};

// ---------------------------------------------------------------- from the configuration

struct QueueSettings {
  BrokerAddress broker;
  Topology topology;
  PublisherOptions publisher;
  ConsumerOptions consumer;
};

// The configuration's `queue` section as what the publisher and the consumer take. `instance`
// names the connections for the broker's listings ("dossier-hub <instance> publisher"). Errors
// only for a URL that does not parse (HubConfig::load has checked it already).
Outcome<QueueSettings> queue_settings(const config::Queue& queue, std::string_view instance);

}  // namespace dh::queue
