#include "hub/postal_sim/amqp_orders.hpp"

#include "hub/observability/log.hpp"
#include "hub/queue/confirmed_publish.hpp"
#include "hub/queue/postal_queues.hpp"

#include <map>
#include <pthread.h>

namespace dh::postal_sim {

using std::chrono::milliseconds;

namespace {

constexpr milliseconds kIdleWait{100};  // one wait for an order when none is being answered
constexpr milliseconds kBusyWait{5};    // ... and while answers may be ready to publish
constexpr milliseconds kConfirmTimeout{5000};

}  // namespace

AmqpOrders::AmqpOrders(SimAmqp config, Take take, std::function<bool()> down)
    : config_(std::move(config)), take_(std::move(take)), down_(std::move(down)) {}

AmqpOrders::~AmqpOrders() {
  stop();
}

void AmqpOrders::start() {
  thread_ = std::thread([this] { run(); });
}

void AmqpOrders::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void AmqpOrders::run() {
  pthread_setname_np(pthread_self(), "sim-amqp");
  auto broker = queue::parse_amqp_url(config_.url);  // checked at load
  if (!broker) return;
  queue::ConnectionOptions options;
  queue::Reconnect reconnect;
  queue::ReconnectState in_state, out_state;
  std::unique_ptr<queue::Connection> in, out;
  std::uint64_t generation = 0;                     // of `in`: answers to an older one are void
  std::map<std::uint64_t, std::string> unanswered;  // delivery tag -> order id, being taken
  bool paused = false;
  auto drop = [&](std::unique_ptr<queue::Connection>& c, const char* role) {
    if (c && c->broken()) queue::log_connection_lost(role, *broker, c->broken_reason().value_or("broken"));
    c.reset();
    if (role == std::string_view("postal-sim orders")) {
      ++generation;  // what it held goes back to the queue
      unanswered.clear();
    }
  };
  while (!stopping_) {
    if (down_()) {  // fault knob down_for: not consuming; what was held waits in the queue
      if (!paused) obs::Log::info("amqp_orders_paused", {{"reason", "down_for"}});
      paused = true;
      if (in) drop(in, "postal-sim orders");
      std::this_thread::sleep_for(milliseconds(200));
      continue;
    }
    paused = false;
    if (!in) {
      options.name = "postal-sim orders";
      auto c = queue::open_with_backoff("postal-sim orders", *broker, options, in_state, reconnect,
                                        [this](queue::Connection& conn) -> Outcome<void> {
                                          if (auto r = queue::declare_order_queue(conn, config_.queue); !r) return r;
                                          if (auto r = conn.set_prefetch(config_.prefetch); !r) return r;
                                          auto tag = conn.consume(config_.queue);
                                          if (!tag) return tag.error();
                                          return {};
                                        });
      if (!c) {
        std::this_thread::sleep_for(reconnect.initial);
        continue;
      }
      in = std::move(*c);
      ++generation;
    }
    auto ev = in->wait(unanswered.empty() ? kIdleWait : kBusyWait);
    while (ev && *ev) {
      if (auto* d = std::get_if<queue::Deliver>(&**ev)) {
        const queue::Message& m = d->message;
        if (m.reply_to.empty()) {
          // Nobody to answer: a real postal core would drop it too; the hub sends it again after
          // its reply_timeout, with reply_to.
          obs::Log::warn("amqp_order_without_reply_to", {{"message_id", m.message_id}});
          if (auto r = in->ack(d->tag); !r) break;
        } else {
          unanswered.emplace(d->tag, m.message_id);
          const std::uint64_t tag = d->tag, gen = generation;
          std::string reply_to = m.reply_to, correlation = m.correlation_id.empty() ? m.message_id : m.correlation_id;
          take_(m, [this, tag, gen, reply_to, correlation](std::string body) {
            std::lock_guard lock(mutex_);
            ready_.push_back(Ready{gen, tag, reply_to, correlation, std::move(body)});
          });
        }
      }
      ev = in->wait(milliseconds(0));
    }
    if (!ev || in->broken()) {
      drop(in, "postal-sim orders");
      continue;
    }

    std::vector<Ready> batch;
    {
      std::lock_guard lock(mutex_);
      batch.swap(ready_);
    }
    std::erase_if(batch, [&](const Ready& r) { return r.generation != generation; });
    if (batch.empty()) continue;
    if (!out || out->broken()) {
      drop(out, "postal-sim replies");
      options.name = "postal-sim replies";
      auto c = queue::open_with_backoff("postal-sim replies", *broker, options, out_state, reconnect,
                                        [](queue::Connection& conn) { return conn.enable_confirms(); });
      if (c) out = std::move(*c);
    }
    std::vector<bool> confirmed(batch.size(), false);
    if (out) {
      std::vector<queue::Outgoing> replies;
      for (const auto& r : batch) {
        queue::Message m;
        m.message_id = r.correlation_id + ".reply." + std::to_string(r.tag);  // unique in the batch
        m.correlation_id = r.correlation_id;
        m.content_type = "application/json";
        m.body = r.body;
        replies.push_back({"", r.reply_to, std::move(m)});
      }
      const queue::ConfirmedBatch sent = queue::publish_confirmed(*out, replies, kConfirmTimeout);
      for (const auto i : sent.confirmed) confirmed[i] = true;
      if (sent.error) obs::Log::warn("amqp_replies_not_confirmed", {{"error", sent.error->message}});
    }
    // The order is acked only now: journalled by the order logic, and its reply confirmed. The
    // others go back to the queue, and are answered again from the journal.
    for (std::size_t i = 0; i < batch.size(); ++i) {
      unanswered.erase(batch[i].tag);
      auto settled = confirmed[i] ? in->ack(batch[i].tag) : in->reject(batch[i].tag, true);
      if (!settled) break;
      if (confirmed[i]) ++replies_;
    }
    if (std::find(confirmed.begin(), confirmed.end(), false) != confirmed.end())
      std::this_thread::sleep_for(milliseconds(200));  // no reply queue, or the broker away: do not spin
  }
}

}  // namespace dh::postal_sim
