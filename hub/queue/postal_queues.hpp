// The postal intake contract on RabbitMQ (docs/operations.md, "A postal core on AMQP"): the queues
// an order and its reply travel through, and what an order message carries. Shared by the hub's
// AMQP postal connector (hub/connectors/amqp_postal.hpp) and the postal core simulator, so that
// both declare the same queues with the same arguments (a declare with other arguments fails).
//
// Queues (durable, quorum):
//   <order queue>        the postal core consumes orders from it; published to through the default
//                        exchange, persistent and mandatory (no queue: returned, not confirmed)
//   <reply queue>        the hub's, shared by every instance; the postal core replies to it
//                        (reply_to); rejected replies dead-letter to <reply queue>.dead
//   <reply queue>.dead   unreadable replies, for an operator to look at
#pragma once

#include "hub/common/result.hpp"
#include "hub/queue/amqp.hpp"

#include <string>
#include <string_view>

namespace dh::queue {

inline constexpr std::string_view kPostalOrderType = "dossier-hub/postal-intake-order";

// The dead-letter queue of a reply queue.
std::string reply_dead_queue(std::string_view reply_queue);

// Declares the order queue (idempotent).
Outcome<void> declare_order_queue(Connection& connection, std::string_view order_queue);
// Declares the reply queue and its dead-letter queue (idempotent).
Outcome<void> declare_reply_queue(Connection& connection, std::string_view reply_queue);

// An intake order as a message: body = the order JSON as rendered at accept time (unchanged);
// message_id = correlation_id = `order_id` (the outbox entry id, the idempotency key); reply_to =
// `reply_queue`; content type application/json (or what the entry has); type
// dossier-hub/postal-intake-order; persistent.
Message order_message(std::string_view order_id, std::string_view content_type, std::string_view body,
                      std::string_view reply_queue);

}  // namespace dh::queue
