#include "hub/queue/postal_queues.hpp"

namespace dh::queue {

std::string reply_dead_queue(std::string_view reply_queue) {
  return std::string(reply_queue) + ".dead";
}

Outcome<void> declare_order_queue(Connection& c, std::string_view order_queue) {
  return c.declare_queue(order_queue, Fields{{"x-queue-type", std::string("quorum")}});
}

Outcome<void> declare_reply_queue(Connection& c, std::string_view reply_queue) {
  const std::string dead = reply_dead_queue(reply_queue);
  if (auto r = c.declare_queue(dead, Fields{{"x-queue-type", std::string("quorum")}}); !r) return r;
  // Rejected replies move through the default exchange (routing by queue name) to the dead queue,
  // at least once: the reply queue keeps a reply until the dead queue confirmed it, which RabbitMQ
  // allows only with reject-publish overflow (there is no length limit, so nothing is refused).
  return c.declare_queue(reply_queue, Fields{{"x-queue-type", std::string("quorum")},
                                             {"x-dead-letter-exchange", std::string()},
                                             {"x-dead-letter-routing-key", dead},
                                             {"x-dead-letter-strategy", std::string("at-least-once")},
                                             {"x-overflow", std::string("reject-publish")}});
}

Message order_message(std::string_view order_id, std::string_view content_type, std::string_view body,
                      std::string_view reply_queue) {
  Message m;
  m.message_id = order_id;
  m.correlation_id = order_id;
  m.reply_to = reply_queue;
  m.content_type = content_type.empty() ? std::string_view("application/json") : content_type;
  m.type = kPostalOrderType;
  m.persistent = true;
  m.body = body;
  return m;
}

}  // namespace dh::queue
