// The simulator's orders on RabbitMQ (docs/postal-sim.md, "Orders on AMQP"), as a postal core that
// consumes intake orders from a queue would take them: orders come from the order queue (manual
// acks, `prefetch` at once), each goes through the simulator's order logic (take), the answer is
// published to the order's reply_to with its correlation_id, and the order is acked only once the
// broker confirmed the reply. The order logic has journalled the order (fsync) before it answers,
// so an acked order is durable and answered.
//
// Delivery semantics: at least once. An order whose reply is not confirmed goes back to the queue
// (basic.reject with requeue) and is taken again: the order logic answers a repeat with the first
// waybill (idempotent by message_id). An order without reply_to cannot be answered: it is acked
// and logged. While `down()` is true the simulator does not consume (its connection is closed, so
// the orders it held go back to the queue and wait there).
//
// Threading: one thread of its own owns two connections (orders in, replies out); `take` is called
// on it and may answer from any thread.
#pragma once

#include "hub/postal_sim/sim_config.hpp"
#include "hub/queue/amqp.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace dh::postal_sim {

class AmqpOrders {
 public:
  // done(reply JSON): the answer to the order, from any thread.
  using Take = std::function<void(const queue::Message& order, std::function<void(std::string)> done)>;
  AmqpOrders(SimAmqp config, Take take, std::function<bool()> down);
  ~AmqpOrders();  // stop()
  AmqpOrders(const AmqpOrders&) = delete;
  AmqpOrders& operator=(const AmqpOrders&) = delete;

  void start();
  void stop();
  [[nodiscard]] std::uint64_t replies() const noexcept { return replies_.load(); }  // confirmed, order acked

 private:
  struct Ready {
    std::uint64_t generation = 0;
    std::uint64_t tag = 0;
    std::string reply_to;
    std::string correlation_id;
    std::string body;
  };
  void run();

  SimAmqp config_;
  Take take_;
  std::function<bool()> down_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> replies_{0};
  std::mutex mutex_;  // guards ready_
  std::vector<Ready> ready_;
};

}  // namespace dh::postal_sim
