// One connection to a RabbitMQ broker (AMQP 0-9-1 over rabbitmq-c) with one channel: no operation
// throws, and none blocks past its deadline (connect, handshake, RPCs, socket writes, waits).
//
// Semantics: a failed operation leaves the connection broken(); every later operation on it fails
// at once, and its owner opens a new one (nothing is retried here). Publishing and acknowledging
// are only as durable as the broker says: in confirm mode wait() reports the broker's confirms.
//
// Threading: rabbitmq-c connections are not thread-safe. A Connection belongs to one thread (its
// owner), which makes every call on it; a watchdog thread of its own only shuts the socket down
// when a call outlives its deadline, so that the owner's call fails instead of hanging.
#pragma once

#include "hub/common/result.hpp"
#include "hub/queue/amqp_url.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace dh::queue {

struct ConnectionOptions {
  std::chrono::milliseconds connect_timeout{5000};    // TCP connect, then the AMQP handshake and login
  std::chrono::milliseconds operation_timeout{5000};  // each RPC (declare, qos, ...) and each socket write
  std::chrono::seconds heartbeat{10};                 // negotiated with the broker; 0 turns heartbeats off
  std::string name;  // shown by the broker (`rabbitmqctl list_connections client_properties`)
};

// A field table reduced to what the hub sends and reads: text and whole numbers. Received fields
// of other kinds (arrays, nested tables such as x-death) are left out.
using FieldValue = std::variant<std::string, std::int64_t>;
using Fields = std::map<std::string, FieldValue, std::less<>>;

struct Message {
  std::string message_id;
  std::string content_type;
  std::string type;
  std::string correlation_id;  // request/reply: the request's id, carried back in the reply
  std::string reply_to;        // request/reply: the queue the answer goes to
  bool persistent = true;      // delivery mode 2: written to disk (quorum queues always are)
  Fields headers;
  std::string body;
};

// What the broker sent on the channel.
struct Confirm {  // publisher confirm: the broker has (ack) or has not (nack) taken publishes up to tag
  bool ack = true;
  std::uint64_t tag = 0;
  bool multiple = false;  // every unconfirmed publish with a sequence number <= tag
};
struct Deliver {  // a message for our consumer; settle it with ack() or reject()
  std::uint64_t tag = 0;
  bool redelivered = false;
  std::string exchange;
  std::string routing_key;
  Message message;
};
struct Returned {  // a mandatory publish that no queue took (a Confirm for it follows)
  int code = 0;
  std::string reason;
  std::string routing_key;
  Message message;
};
using Event = std::variant<Confirm, Deliver, Returned>;

class Connection {
 public:
  // Connects, logs in, opens channel 1. Errors name the broker (without its password) and why.
  static Outcome<std::unique_ptr<Connection>> open(const BrokerAddress& broker, const ConnectionOptions& options);
  ~Connection();  // closes politely when still healthy (bounded by operation_timeout), then frees
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // --- topology (RPCs)
  Outcome<void> declare_exchange(std::string_view name, std::string_view type);  // durable
  Outcome<void> declare_queue(std::string_view name, const Fields& arguments);   // durable
  Outcome<void> bind_queue(std::string_view queue, std::string_view exchange, std::string_view key);
  Outcome<std::uint32_t> delete_queue(std::string_view name);  // the number of messages it held
  Outcome<void> delete_exchange(std::string_view name);
  // Messages ready in a queue (not counting unacknowledged ones). An absent queue is an error and,
  // as AMQP wants it, closes the channel: the connection is broken afterwards.
  Outcome<std::uint32_t> ready_count(std::string_view queue);

  // --- channel modes
  Outcome<void> enable_confirms();  // publisher confirms; publish() then returns sequence numbers
  Outcome<void> set_prefetch(std::uint16_t count);
  Outcome<std::string> consume(std::string_view queue);  // manual acks; returns the consumer tag

  // --- messages (sends, bounded by operation_timeout; no answer is awaited)
  // Returns the publish's sequence number in confirm mode (1, 2, ...), 0 otherwise.
  Outcome<std::uint64_t> publish(std::string_view exchange, std::string_view routing_key, const Message& message,
                                 bool mandatory);
  Outcome<void> ack(std::uint64_t delivery_tag);
  Outcome<void> reject(std::uint64_t delivery_tag, bool requeue);

  // The next event within `timeout` (0: only what has arrived); nullopt when none came. Also
  // services heartbeats: an owner with nothing else to do calls it at least every heartbeat / 2.
  Outcome<std::optional<Event>> wait(std::chrono::milliseconds timeout);

  [[nodiscard]] bool broken() const noexcept { return broken_.has_value(); }
  [[nodiscard]] const std::optional<std::string>& broken_reason() const noexcept { return broken_; }
  // Whether the broker has blocked publishing (connection.blocked: a memory or disk alarm).
  [[nodiscard]] bool blocked() const noexcept { return blocked_; }

  // Tests: drops the TCP connection at once, as a network failure would (the broker sees it too).
  void sever() noexcept;

  struct State;

 private:
  explicit Connection(std::unique_ptr<State> state);
  Error fail(std::string reason);
  Outcome<void> check_rpc(std::string_view what);
  Outcome<std::optional<Event>> handle_frame(const void* frame);

  std::unique_ptr<State> state_;
  std::optional<std::string> broken_;
  bool blocked_ = false;
  bool confirming_ = false;
  std::uint64_t next_publish_seq_ = 1;
};

}  // namespace dh::queue
