#include "hub/connectors/amqp_postal.hpp"

#include "hub/common/await_done.hpp"
#include "hub/connectors/outcome.hpp"
#include "hub/observability/log.hpp"
#include "hub/queue/postal_queues.hpp"

#include <future>
#include <pthread.h>

namespace dh::connectors {

namespace asio = boost::asio;
using dispatcher::Attempt;
using Settlement = dispatcher::Dispatcher::Settlement;
using std::chrono::milliseconds;

namespace {

// One wait for a reply, so that stop() is noticed soon; and the longest the reply consumer waits
// for the dispatcher to record a batch before it checks whether it is stopping.
constexpr milliseconds kSlice{100};

obs::Counter& count(obs::Registry& m, const std::string& endpoint, const char* outcome) {
  return m.counter("dossier_hub_postal_replies_total",
                   "Replies of postal cores on AMQP by endpoint and outcome (recorded, unknown_order, unreadable, "
                   "unrecorded)",
                   {{"endpoint", endpoint}, {"outcome", outcome}});
}

// What a reply says, or why it cannot be read (safe text: ids and reasons, never the body).
struct Reply {
  std::string order_id;
  PostalReply answer;
};
dh::Outcome<Reply> read_reply(const queue::Message& m) {
  if (m.correlation_id.empty()) return make_error("the reply has no correlation_id (the order's id)");
  auto answer = parse_postal_reply(m.body);
  if (!answer) return answer.error();
  return Reply{m.correlation_id, *answer};
}

void log_unreadable(const std::string& endpoint, const queue::Message& m, const std::string& reason) {
  // The correlation id is the hub's own order id: safe. The body is the postal core's: never logged.
  obs::Log::warn("postal_reply_unreadable",
                 {{"endpoint", endpoint}, {"correlation_id", m.correlation_id}, {"reason", reason}});
}

}  // namespace

dh::Outcome<AmqpPostalOptions> amqp_postal_options(std::string name, const config::Endpoint& e,
                                                   std::string_view instance) {
  auto broker = queue::parse_amqp_url(e.url);
  if (!broker) return broker.error();
  AmqpPostalOptions o;
  o.connection.name =
      (instance.empty() ? std::string("dossier-hub") : "dossier-hub " + std::string(instance)) + " postal " + name;
  o.endpoint = std::move(name);
  o.broker = std::move(*broker);
  o.order_queue = e.queue;
  o.reply_queue = e.reply_queue;
  o.reply_timeout = e.reply_timeout;
  o.confirm_timeout = e.timeout;
  return o;
}

AmqpPostal::AmqpPostal(AmqpPostalOptions options, store::Store& store, obs::Registry& metrics)
    : options_(std::move(options)),
      store_(store),
      published_total_(metrics.counter("dossier_hub_postal_published_total",
                                       "Intake orders the broker confirmed into a postal core's queue",
                                       {{"endpoint", options_.endpoint}})),
      not_confirmed_total_(metrics.counter("dossier_hub_postal_not_confirmed_total",
                                           "Intake orders the broker did not confirm (retried)",
                                           {{"endpoint", options_.endpoint}})),
      replies_recorded_total_(count(metrics, options_.endpoint, "recorded")),
      replies_unknown_total_(count(metrics, options_.endpoint, "unknown_order")),
      replies_unreadable_total_(count(metrics, options_.endpoint, "unreadable")),
      replies_unrecorded_total_(count(metrics, options_.endpoint, "unrecorded")) {
  options_.batch = std::max<std::size_t>(1, options_.batch);
  options_.prefetch = std::max<std::uint16_t>(1, options_.prefetch);
}

AmqpPostal::~AmqpPostal() {
  stop();
}

void AmqpPostal::start(dispatcher::Dispatcher& dispatcher) {
  dispatcher_ = &dispatcher;
  publisher_ = std::thread([this] { publish_loop(); });
  consumer_ = std::thread([this] { reply_loop(); });
}

void AmqpPostal::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (publisher_.joinable()) publisher_.join();
  if (consumer_.joinable()) consumer_.join();
}

bool AmqpPostal::stopping() const {
  std::lock_guard lock(mutex_);
  return stopping_;
}

void AmqpPostal::pause(milliseconds d) {
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, d, [this] { return stopping_; });
}

AmqpPostal::Stats AmqpPostal::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void AmqpPostal::sever_for_test() {
  sever_orders_ = true;
  sever_replies_ = true;
  cv_.notify_all();
}

// ---------------------------------------------------------------- orders

queue::Outgoing AmqpPostal::order_outgoing(const store::OutboxEntry& entry) const {
  return queue::Outgoing{"", options_.order_queue,
                         queue::order_message(entry.id, entry.content_type, entry.payload, options_.reply_queue)};
}

asio::awaitable<Attempt> AmqpPostal::send(const store::OutboxEntry& entry) {
  // Built outside the coroutine's frame: GCC 12 miscompiles brace initialisation in coroutines.
  queue::Outgoing out = order_outgoing(entry);
  const dh::Outcome<void> confirmed = co_await await_done<void>([&](std::function<void(dh::Outcome<void>)> done) {
    {
      std::lock_guard lock(mutex_);
      if (!stopping_) {
        orders_.push_back(Order{std::move(out), std::move(done)});
        done = nullptr;
      }
    }
    if (done) {
      done(make_error("the connector is stopping"));
      return;
    }
    cv_.notify_all();
  });
  Attempt a;
  if (confirmed) {
    a.handed_over = true;
    a.answer_within = options_.reply_timeout;
    a.status = "confirmed";
  } else {
    a.classification.outcome = Outcome::retry;
    a.classification.reason = "not confirmed by the broker: " + confirmed.error().message;
    a.error = "not_confirmed";
  }
  co_return a;
}

void AmqpPostal::publish_loop() {
  pthread_setname_np(pthread_self(), "dh-postal-pub");
  std::unique_ptr<queue::Connection> conn;
  queue::ReconnectState reconnect;
  auto prepare = [this](queue::Connection& c) -> dh::Outcome<void> {
    if (auto r = queue::declare_order_queue(c, options_.order_queue); !r) return r;
    if (auto r = queue::declare_reply_queue(c, options_.reply_queue); !r) return r;
    return c.enable_confirms();
  };
  auto connection_options = options_.connection;
  connection_options.name += " orders";
  // Heartbeats while idle: the owner services the connection at least this often.
  const milliseconds idle = std::max(milliseconds(200), milliseconds(options_.connection.heartbeat) / 2);
  for (;;) {
    std::vector<Order> batch;
    {
      std::unique_lock lock(mutex_);
      cv_.wait_for(lock, idle, [this] { return stopping_ || !orders_.empty() || sever_orders_; });
      if (stopping_) break;
      while (!orders_.empty() && batch.size() < options_.batch) {
        batch.push_back(std::move(orders_.front()));
        orders_.pop_front();
      }
    }
    if (conn && sever_orders_.exchange(false)) conn->sever();
    if (conn && batch.empty()) {
      for (;;) {  // heartbeats, and a broker that closed the connection meanwhile
        auto ev = conn->wait(milliseconds(0));
        if (!ev || !*ev) break;
      }
    }
    if (conn && conn->broken()) {
      queue::log_connection_lost("postal orders", options_.broker, conn->broken_reason().value_or("broken"));
      conn.reset();
    }
    if (batch.empty()) continue;
    if (!conn) {
      auto c = queue::open_with_backoff("postal orders", options_.broker, connection_options, reconnect,
                                        options_.reconnect, prepare);
      if (!c) {
        for (auto& o : batch) o.done(c.error());
        std::lock_guard lock(mutex_);
        stats_.not_confirmed += batch.size();
        not_confirmed_total_.inc(static_cast<double>(batch.size()));
        continue;
      }
      conn = std::move(*c);
      std::lock_guard lock(mutex_);
      ++stats_.connects;
    }
    std::vector<queue::Outgoing> messages;
    messages.reserve(batch.size());
    for (auto& o : batch) messages.push_back(std::move(o.message));
    queue::ConfirmedBatch r = queue::publish_confirmed(*conn, messages, options_.confirm_timeout);
    const Error why = r.error.value_or(make_error("not confirmed"));
    for (const auto i : r.confirmed) batch[i].done({});
    for (const auto i : r.not_confirmed) batch[i].done(why);
    published_total_.inc(static_cast<double>(r.confirmed.size()));
    not_confirmed_total_.inc(static_cast<double>(r.not_confirmed.size()));
    if (!r.not_confirmed.empty())
      obs::Log::warn("postal_publish_failed", {{"endpoint", options_.endpoint},
                                               {"not_confirmed", std::to_string(r.not_confirmed.size())},
                                               {"error", why.message}});
    std::lock_guard lock(mutex_);
    ++stats_.batches;
    stats_.published += r.confirmed.size();
    stats_.not_confirmed += r.not_confirmed.size();
  }
  // Stopping: what waits was never sent.
  std::deque<Order> left;
  {
    std::lock_guard lock(mutex_);
    left.swap(orders_);
  }
  for (auto& o : left) o.done(make_error("the connector is stopping"));
}

// ---------------------------------------------------------------- replies

void AmqpPostal::reply_loop() {
  pthread_setname_np(pthread_self(), "dh-postal-reply");
  std::unique_ptr<queue::Connection> conn;
  queue::ReconnectState reconnect;
  auto connection_options = options_.connection;
  connection_options.name += " replies";
  auto prepare = [this](queue::Connection& c) -> dh::Outcome<void> {
    if (auto r = queue::declare_reply_queue(c, options_.reply_queue); !r) return r;
    if (auto r = c.set_prefetch(options_.prefetch); !r) return r;
    auto tag = c.consume(options_.reply_queue);
    if (!tag) return tag.error();
    return {};
  };
  while (!stopping()) {
    if (conn && sever_replies_.exchange(false)) conn->sever();
    if (conn && conn->broken()) {
      // Replies in hand and unacked go back to the queue, to this instance or another.
      queue::log_connection_lost("postal replies", options_.broker, conn->broken_reason().value_or("broken"));
      conn.reset();
    }
    if (!conn) {
      auto c = queue::open_with_backoff("postal replies", options_.broker, connection_options, reconnect,
                                        options_.reconnect, prepare);
      if (!c) {
        pause(options_.reconnect.initial);
        continue;
      }
      conn = std::move(*c);
      std::lock_guard lock(mutex_);
      ++stats_.connects;
    }
    // Whatever has come, up to the prefetch: recorded together, so they share the store's commits.
    std::vector<queue::Deliver> replies;
    auto ev = conn->wait(kSlice);
    while (ev && *ev) {
      if (auto* d = std::get_if<queue::Deliver>(&**ev)) replies.push_back(std::move(*d));
      if (replies.size() >= options_.prefetch) break;
      ev = conn->wait(milliseconds(0));
    }
    if (!ev) continue;  // broken: noticed above
    if (!replies.empty()) (void)settle_replies(*conn, replies);
  }
}

dh::Outcome<void> AmqpPostal::settle_replies(queue::Connection& conn, std::vector<queue::Deliver>& replies) {
  enum class Decision { ack, dead_letter, requeue, leave };
  struct Pending {
    std::shared_ptr<std::promise<Settlement>> promise;
    std::future<Settlement> result;
  };
  std::vector<Decision> decisions(replies.size(), Decision::leave);
  std::vector<std::optional<Pending>> pending(replies.size());
  bool store_trouble = false;
  for (std::size_t i = 0; i < replies.size(); ++i) {
    const queue::Message& m = replies[i].message;
    auto reply = read_reply(m);
    if (!reply) {
      log_unreadable(options_.endpoint, m, reply.error().message);
      replies_unreadable_total_.inc();
      decisions[i] = Decision::dead_letter;
      continue;
    }
    auto entry = store_.outbox_entry(reply->order_id);
    if (!entry) {  // the store cannot be read now: the reply waits in the queue
      obs::Log::warn(
          "postal_reply_unrecorded",
          {{"endpoint", options_.endpoint}, {"outbox_id", reply->order_id}, {"error", entry.error().message}});
      replies_unrecorded_total_.inc();
      decisions[i] = Decision::requeue;
      store_trouble = true;
      continue;
    }
    if (!*entry || (*entry)->kind != store::OutboxKind::postal_order) {
      // Recorded already (a repeated reply, or the reply to an order published a second time
      // after its reply_timeout), or never ours: nothing to do but take it off the queue.
      obs::Log::info("postal_reply_unknown_order", {{"endpoint", options_.endpoint},
                                                    {"outbox_id", reply->order_id},
                                                    {"status", std::to_string(reply->answer.status)}});
      replies_unknown_total_.inc();
      decisions[i] = Decision::ack;
      continue;
    }
    Attempt answer;
    answer.classification = classify_postal_reply(reply->answer);
    answer.status = std::to_string(reply->answer.status);
    auto p = std::make_shared<std::promise<Settlement>>();
    pending[i] = Pending{p, p->get_future()};
    dispatcher_->record_reply(std::move(**entry), std::move(answer), [p](Settlement s) { p->set_value(s); });
  }
  for (std::size_t i = 0; i < replies.size(); ++i) {
    if (!pending[i]) continue;
    // The store commits within its timeouts; a stopping hub may stop the dispatcher's executor
    // first, and then the reply stays unacked and goes back to the queue.
    while (pending[i]->result.wait_for(kSlice) != std::future_status::ready)
      if (stopping()) return make_error("stopping");
    const Settlement s = pending[i]->result.get();
    if (s.what == Settlement::What::unrecorded) {
      replies_unrecorded_total_.inc();
      decisions[i] = Decision::requeue;
      store_trouble = true;
    } else {
      replies_recorded_total_.inc();
      decisions[i] = Decision::ack;
    }
  }
  dh::Outcome<void> sent;
  std::size_t recorded = 0, unknown = 0, unreadable = 0, unrecorded = 0;
  for (std::size_t i = 0; i < replies.size() && sent; ++i) {
    switch (decisions[i]) {
      case Decision::ack:
        sent = conn.ack(replies[i].tag);
        ++(pending[i] ? recorded : unknown);
        break;
      case Decision::dead_letter:
        sent = conn.reject(replies[i].tag, false);
        ++unreadable;
        break;
      case Decision::requeue:
        sent = conn.reject(replies[i].tag, true);
        ++unrecorded;
        break;
      case Decision::leave:
        break;
    }
  }
  {
    std::lock_guard lock(mutex_);
    stats_.replies_recorded += recorded;
    stats_.replies_unknown += unknown;
    stats_.replies_unreadable += unreadable;
    stats_.replies_unrecorded += unrecorded;
  }
  // A store that cannot take replies now: do not spin on the ones that went back to the queue.
  if (store_trouble) pause(std::chrono::seconds(1));
  return sent;
}

}  // namespace dh::connectors
