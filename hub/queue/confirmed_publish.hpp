// What every RabbitMQ client of the hub shares: connecting with a backoff between failed attempts,
// and publishing a batch with publisher confirms (one wait for the whole batch, never one per
// message). The work queue (work_queue.hpp) and the AMQP postal connector
// (hub/connectors/amqp_postal.hpp) are built on it.
//
// Delivery semantics: publish_confirmed() reports a message confirmed only after the broker's
// publisher confirm (an ack, and no basic.return: some queue took it); everything else (nacked,
// returned, unconfirmed when the connection failed or the timeout passed) is reported not
// confirmed, and its owner publishes it again: possibly twice.
//
// Threading: as for Connection: the calling thread owns the connection.
#pragma once

#include "hub/common/result.hpp"
#include "hub/queue/amqp.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dh::queue {

struct Reconnect {
  std::chrono::milliseconds initial{200};  // wait after the first failed connect
  std::chrono::milliseconds max{10000};    // doubling up to this
};

// Where a connection's owner stands in the backoff.
struct ReconnectState {
  std::chrono::steady_clock::time_point next_attempt{};
  std::chrono::milliseconds backoff{0};
};

// Opens a connection and runs `prepare` on it (declare, confirm mode, consume, ...), unless the
// backoff says not yet. A failure (connect or prepare) lengthens the backoff and is logged
// (amqp_connect_failed, naming `role` and the broker without its password); success resets it
// and is logged (amqp_connected).
Outcome<std::unique_ptr<Connection>> open_with_backoff(std::string_view role, const BrokerAddress& broker,
                                                       const ConnectionOptions& options, ReconnectState& state,
                                                       const Reconnect& reconnect,
                                                       const std::function<Outcome<void>(Connection&)>& prepare);

// The log line of a connection found broken (amqp_connection_lost): role, broker (without its
// password) and why.
void log_connection_lost(std::string_view role, const BrokerAddress& broker, std::string_view reason);

// One message to publish (mandatory) and where: `exchange` "" is the default exchange, which
// routes by queue name.
struct Outgoing {
  std::string exchange;
  std::string routing_key;
  Message message;
};

struct ConfirmedBatch {
  std::vector<std::size_t> confirmed;      // indexes into the batch
  std::vector<std::size_t> not_confirmed;  // publish these again
  std::optional<Error> error;              // why some are not confirmed
  std::uint64_t confirm_frames = 0;        // basic.ack / basic.nack frames received
};

// Publishes the whole batch (mandatory; the connection must be in confirm mode), then awaits the
// broker's confirms, at most `confirm_timeout`. Every index ends in exactly one of the two lists.
// A returned message is recognised by its message_id: give each message of a batch its own.
ConfirmedBatch publish_confirmed(Connection& connection, std::span<const Outgoing> batch,
                                 std::chrono::milliseconds confirm_timeout);

}  // namespace dh::queue
