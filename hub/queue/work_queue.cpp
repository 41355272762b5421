#include "hub/queue/work_queue.hpp"

#include "hub/observability/log.hpp"

#include <algorithm>
#include <utility>

namespace dh::queue {

namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kMessageType = "dossier-hub/outbox-entry";
// How long one wait on the socket lasts at most while settlements from other threads may be
// queued: the latency of an ack() made on another thread.
constexpr milliseconds kSlice{10};

std::string_view kind_name(store::OutboxKind k) {
  return k == store::OutboxKind::postal_order ? "postal_order" : "agency_callback";
}

std::optional<store::OutboxKind> kind_of(std::string_view s) {
  if (s == "postal_order") return store::OutboxKind::postal_order;
  if (s == "agency_callback") return store::OutboxKind::agency_callback;
  return std::nullopt;
}

std::string tier_label(milliseconds t) {
  const auto ms = t.count();
  if (ms % 3600000 == 0) return std::to_string(ms / 3600000) + "h";
  if (ms % 60000 == 0) return std::to_string(ms / 60000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

milliseconds remaining(Clock::time_point deadline) {
  return std::max(milliseconds(0), std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
}

Timestamp now_timestamp() {
  const auto t = std::chrono::system_clock::now();
  Timestamp ts;
  ts.utc = std::chrono::floor<std::chrono::seconds>(t);
  ts.nanos = static_cast<std::int32_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t - ts.utc).count());
  return ts;
}

const std::string* text_field(const Fields& f, std::string_view key) {
  const auto it = f.find(key);
  return it == f.end() ? nullptr : std::get_if<std::string>(&it->second);
}

}  // namespace

// ---------------------------------------------------------------- topology

std::string Topology::tier_queue(milliseconds tier) const {
  return prefix + "dh.retry." + tier_label(tier);
}

milliseconds Topology::tier_for(milliseconds delay) const {
  if (retry_tiers.empty()) return milliseconds(0);
  for (const auto t : retry_tiers)
    if (t >= delay) return t;
  return retry_tiers.back();
}

Outcome<void> declare_topology(Connection& c, const Topology& t) {
  const Fields quorum{{"x-queue-type", std::string("quorum")}};
  // Quorum queues dead-letter at most once unless told otherwise; at-least-once keeps a message in
  // its queue until the dead-letter target confirmed it, and RabbitMQ requires reject-publish
  // overflow for it (there is no length limit here, so nothing is refused for it).
  const Fields at_least_once{{"x-dead-letter-strategy", std::string("at-least-once")},
                             {"x-overflow", std::string("reject-publish")}};

  if (auto r = c.declare_exchange(t.dead_exchange(), "fanout"); !r) return r;
  if (auto r = c.declare_queue(t.dead_queue(), quorum); !r) return r;
  if (auto r = c.bind_queue(t.dead_queue(), t.dead_exchange(), ""); !r) return r;

  if (auto r = c.declare_exchange(t.work_exchange(), "topic"); !r) return r;
  Fields work = quorum;
  work.insert(at_least_once.begin(), at_least_once.end());
  work.emplace("x-dead-letter-exchange", t.dead_exchange());
  if (t.delivery_limit > 0) work.emplace("x-delivery-limit", std::int64_t{t.delivery_limit});
  if (auto r = c.declare_queue(t.work_queue(), work); !r) return r;
  if (auto r = c.bind_queue(t.work_queue(), t.work_exchange(), "#"); !r) return r;

  for (const auto tier : t.retry_tiers) {
    Fields delay = quorum;
    delay.insert(at_least_once.begin(), at_least_once.end());
    delay.emplace("x-message-ttl", std::int64_t{tier.count()});
    delay.emplace("x-dead-letter-exchange", t.work_exchange());
    delay.emplace("x-dead-letter-routing-key", "retry." + tier_label(tier));
    if (auto r = c.declare_queue(t.tier_queue(tier), delay); !r) return r;
  }
  return {};
}

Outcome<void> delete_topology(Connection& c, const Topology& t) {
  for (const auto tier : t.retry_tiers)
    if (auto r = c.delete_queue(t.tier_queue(tier)); !r) return r.error();
  if (auto r = c.delete_queue(t.work_queue()); !r) return r.error();
  if (auto r = c.delete_queue(t.dead_queue()); !r) return r.error();
  if (auto r = c.delete_exchange(t.work_exchange()); !r) return r;
  return c.delete_exchange(t.dead_exchange());
}

// ---------------------------------------------------------------- messages

Message to_message(const store::OutboxEntry& e) {
  Message m;
  m.message_id = e.id;
  m.content_type = e.content_type;
  m.type = std::string(kMessageType);
  m.persistent = true;
  m.headers.emplace("kind", std::string(kind_name(e.kind)));
  m.headers.emplace("target", e.target);
  m.headers.emplace("hub_id", e.hub_id);
  m.headers.emplace("url", e.url);
  m.headers.emplace("attempts", std::int64_t{e.attempts});
  if (!e.last_error.empty()) m.headers.emplace("last_error", e.last_error);
  m.body = e.payload;
  return m;
}

std::string routing_key_of(const store::OutboxEntry& e) {
  return std::string(kind_name(e.kind)) + "." + e.target;
}

std::optional<store::OutboxEntry> to_entry(const Message& m) {
  const std::string* kind = text_field(m.headers, "kind");
  if (m.message_id.empty() || !kind) return std::nullopt;
  const auto k = kind_of(*kind);
  if (!k) return std::nullopt;
  store::OutboxEntry e;
  e.id = m.message_id;
  e.kind = *k;
  if (const auto* s = text_field(m.headers, "target")) e.target = *s;
  if (const auto* s = text_field(m.headers, "hub_id")) e.hub_id = *s;
  if (const auto* s = text_field(m.headers, "url")) e.url = *s;
  if (const auto* s = text_field(m.headers, "last_error")) e.last_error = *s;
  if (const auto it = m.headers.find("attempts"); it != m.headers.end())
    if (const auto* n = std::get_if<std::int64_t>(&it->second)) e.attempts = static_cast<int>(*n);
  e.content_type = m.content_type;
  e.payload = m.body;
  return e;
}

// ---------------------------------------------------------------- publisher

WorkPublisher::WorkPublisher(BrokerAddress broker, Topology topology, PublisherOptions options)
    : broker_(std::move(broker)), topology_(std::move(topology)), options_(std::move(options)) {
  options_.batch = std::max<std::size_t>(1, options_.batch);
  if (options_.connection.name.empty()) options_.connection.name = "dossier-hub publisher";
}

WorkPublisher::~WorkPublisher() = default;

void WorkPublisher::lost() {
  if (!connection_) return;
  ++stats_.connection_losses;
  log_connection_lost("publisher", broker_, connection_->broken_reason().value_or("unknown"));
  connection_.reset();
}

Outcome<void> WorkPublisher::connect() {
  if (connection_ && !connection_->broken()) {
    // Notice a broker that closed the connection while we were idle before sending into it.
    for (;;) {
      auto ev = connection_->wait(milliseconds(0));
      if (!ev || !*ev) break;  // an error marks the connection broken; nothing more has arrived
    }
    if (!connection_->broken()) return {};
  }
  if (connection_) lost();
  auto c = open_with_backoff("publisher", broker_, options_.connection, reconnect_, options_.reconnect,
                             [this](Connection& conn) -> Outcome<void> {
                               if (auto r = declare_topology(conn, topology_); !r) return r;
                               return conn.enable_confirms();
                             });
  if (!c) return c.error();
  connection_ = std::move(*c);
  ++stats_.connects;
  return {};
}

Outcome<void> WorkPublisher::keep_alive() {
  if (auto r = connect(); !r) return r;
  return {};
}

void WorkPublisher::sever_for_test() {
  if (connection_) connection_->sever();
}

PublishResult WorkPublisher::publish(std::span<const store::OutboxEntry> entries) {
  PublishResult result;
  result.confirmed.reserve(entries.size());
  for (std::size_t offset = 0; offset < entries.size(); offset += options_.batch) {
    const auto batch = entries.subspan(offset, std::min(options_.batch, entries.size() - offset));
    if (auto c = connect(); !c) {
      for (const auto& e : entries.subspan(offset)) result.not_confirmed.push_back(e.id);
      if (!result.error) result.error = c.error();
      break;
    }
    publish_batch(batch, result);
  }
  stats_.confirmed += result.confirmed.size();
  stats_.not_confirmed += result.not_confirmed.size();
  return result;
}

void WorkPublisher::publish_batch(std::span<const store::OutboxEntry> batch, PublishResult& result) {
  std::vector<Outgoing> out;
  out.reserve(batch.size());
  for (const auto& e : batch) out.push_back({topology_.work_exchange(), routing_key_of(e), to_message(e)});
  ConfirmedBatch r = publish_confirmed(*connection_, out, options_.confirm_timeout);
  ++stats_.batches;
  stats_.confirm_frames += r.confirm_frames;
  for (const auto i : r.confirmed) result.confirmed.push_back(batch[i].id);
  for (const auto i : r.not_confirmed) result.not_confirmed.push_back(batch[i].id);
  if (r.error && !result.error) result.error = std::move(r.error);
  if (connection_->broken()) lost();
}

// ---------------------------------------------------------------- consumer

WorkConsumer::WorkConsumer(BrokerAddress broker, Topology topology, ConsumerOptions options)
    : broker_(std::move(broker)), topology_(std::move(topology)), options_(std::move(options)) {
  options_.prefetch = std::max<std::uint16_t>(1, options_.prefetch);
  if (options_.connection.name.empty()) options_.connection.name = "dossier-hub consumer";
}

WorkConsumer::~WorkConsumer() {
  if (connected()) (void)flush(std::min(options_.confirm_timeout, milliseconds(2000)));
  connection_.reset();  // closes the channel: the broker requeues whatever is unsettled
}

ConsumerStats WorkConsumer::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void WorkConsumer::sever_for_test() {
  if (connection_) connection_->sever();
}

Error WorkConsumer::lost(const Error& why) {
  if (connection_) {
    log_connection_lost("consumer", broker_, connection_->broken_reason().value_or(why.message));
    connection_.reset();
  }
  std::lock_guard lock(mutex_);
  ++stats_.connection_losses;
  ++generation_;  // every delivery in hand is void: the broker hands them out again
  unsettled_.clear();
  queued_.clear();
  ready_.clear();
  retries_.clear();
  returned_.clear();
  return make_error("connection to the broker lost: " + why.message);
}

Outcome<void> WorkConsumer::ensure_connected() {
  if (connection_ && !connection_->broken()) return {};
  if (connection_) return lost(make_error(connection_->broken_reason().value_or("broken")));
  auto c = open_with_backoff("consumer", broker_, options_.connection, reconnect_, options_.reconnect,
                             [this](Connection& conn) -> Outcome<void> {
                               if (auto r = declare_topology(conn, topology_); !r) return r;
                               if (auto r = conn.set_prefetch(options_.prefetch); !r) return r;
                               if (auto r = conn.enable_confirms(); !r) return r;  // for retry copies
                               auto tag = conn.consume(topology_.work_queue());
                               if (!tag) return tag.error();
                               return {};
                             });
  if (!c) return c.error();
  connection_ = std::move(*c);
  std::lock_guard lock(mutex_);
  ++generation_;
  ++stats_.connects;
  return {};
}

Outcome<void> WorkConsumer::settle(const Delivery& d, Settlement s) {
  std::lock_guard lock(mutex_);
  if (d.generation != generation_)
    return make_error("the delivery's connection is gone: the broker hands the message out again");
  if (unsettled_.erase(d.tag) == 0) return make_error("the delivery was settled already");
  s.tag = d.tag;
  s.generation = d.generation;
  queued_.push_back(std::move(s));
  return {};
}

Outcome<void> WorkConsumer::ack(const Delivery& d) {
  Settlement s;
  s.decision = Decision::ack;
  return settle(d, std::move(s));
}

Outcome<void> WorkConsumer::dead_letter(const Delivery& d) {
  Settlement s;
  s.decision = Decision::dead_letter;
  return settle(d, std::move(s));
}

Outcome<void> WorkConsumer::retry(const Delivery& d, milliseconds delay, std::string last_error) {
  return delay_copy(d, delay, std::move(last_error), 1);
}

Outcome<void> WorkConsumer::postpone(const Delivery& d, milliseconds delay) {
  return delay_copy(d, delay, d.entry.last_error, 0);
}

Outcome<void> WorkConsumer::delay_copy(const Delivery& d, milliseconds delay, std::string last_error, int attempts) {
  if (topology_.retry_tiers.empty()) return make_error("no retry tiers are configured");
  Settlement s;
  s.decision = Decision::retry;
  s.entry = d.entry;
  s.entry.attempts += attempts;
  s.entry.last_error = std::move(last_error);
  s.delay = delay;
  return settle(d, std::move(s));
}

Outcome<void> WorkConsumer::send_settlements() {
  std::vector<Settlement> batch;
  std::uint64_t generation = 0;
  {
    std::lock_guard lock(mutex_);
    batch.swap(queued_);
    generation = generation_;
  }
  for (auto& s : batch) {
    if (s.generation != generation) continue;  // its connection is gone: the broker redelivers it
    switch (s.decision) {
      case Decision::ack: {
        if (auto r = connection_->ack(s.tag); !r) return r;
        std::lock_guard lock(mutex_);
        ++stats_.acks;
        break;
      }
      case Decision::dead_letter: {
        if (auto r = connection_->reject(s.tag, false); !r) return r;
        std::lock_guard lock(mutex_);
        ++stats_.dead_letters;
        break;
      }
      case Decision::retry: {
        const auto tier = topology_.tier_for(s.delay);
        auto seq = connection_->publish("", topology_.tier_queue(tier), to_message(s.entry), true);
        if (!seq) return seq.error();
        retries_.emplace(*seq, PendingRetry{s.tag, s.entry.id, Clock::now() + options_.confirm_timeout});
        break;
      }
    }
  }
  return {};
}

Outcome<void> WorkConsumer::expire_retries() {
  const auto now = Clock::now();
  for (auto it = retries_.begin(); it != retries_.end();) {
    if (it->second.deadline > now) {
      ++it;
      continue;
    }
    // Unknown whether the delay queue has the copy: give the original back to the work queue now
    // (at worst a duplicate) rather than lose it.
    obs::Log::warn("amqp_retry_unconfirmed", {{"outbox_id", it->second.message_id}});
    if (auto r = connection_->reject(it->second.original_tag, true); !r) return r;
    {
      std::lock_guard lock(mutex_);
      ++stats_.requeued;
    }
    it = retries_.erase(it);
  }
  return {};
}

Outcome<void> WorkConsumer::handle(Event event) {
  if (auto* d = std::get_if<Deliver>(&event)) {
    auto entry = to_entry(d->message);
    if (!entry) {
      // Not an outbox entry (no id or kind): nobody here can act on it; an operator can look at it
      // in the dead-letter queue.
      obs::Log::warn("amqp_malformed_delivery", {{"queue", topology_.work_queue()}, {"routing_key", d->routing_key}});
      if (auto r = connection_->reject(d->tag, false); !r) return r;
      std::lock_guard lock(mutex_);
      ++stats_.dead_letters;
      return {};
    }
    entry->due_at = now_timestamp();
    Delivery delivery{std::move(*entry), d->redelivered, d->tag, 0};
    {
      std::lock_guard lock(mutex_);
      delivery.generation = generation_;
      unsettled_.insert(d->tag);
      ++stats_.deliveries;
    }
    ready_.push_back(std::move(delivery));
    return {};
  }
  if (const auto* ret = std::get_if<Returned>(&event)) {
    returned_.insert(ret->message.message_id);
    return {};
  }
  const auto& confirm = std::get<Confirm>(event);
  auto first = confirm.multiple ? retries_.begin() : retries_.find(confirm.tag);
  auto last = confirm.multiple ? retries_.upper_bound(confirm.tag) : std::next(first, first != retries_.end());
  for (auto it = first; it != last; ++it) {
    const bool taken = confirm.ack && returned_.erase(it->second.message_id) == 0;
    if (taken) {
      if (auto r = connection_->ack(it->second.original_tag); !r) return r;
    } else {
      obs::Log::warn("amqp_retry_refused", {{"outbox_id", it->second.message_id}});
      if (auto r = connection_->reject(it->second.original_tag, true); !r) return r;
    }
    std::lock_guard lock(mutex_);
    ++(taken ? stats_.retries : stats_.requeued);
  }
  retries_.erase(first, last);
  return {};
}

Outcome<std::optional<Delivery>> WorkConsumer::next(milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  auto pop = [this]() {
    Delivery d = std::move(ready_.front());
    ready_.pop_front();
    return std::optional<Delivery>(std::move(d));
  };
  if (auto c = ensure_connected(); !c) return c.error();
  if (!ready_.empty()) return pop();
  for (;;) {
    if (auto r = send_settlements(); !r) return lost(r.error());
    if (auto r = expire_retries(); !r) return lost(r.error());
    auto ev = connection_->wait(std::min(kSlice, remaining(deadline)));
    if (!ev) return lost(ev.error());
    if (*ev)
      if (auto r = handle(std::move(**ev)); !r) return lost(r.error());
    if (!ready_.empty()) return pop();
    if (Clock::now() >= deadline) return std::optional<Delivery>();
  }
}

Outcome<bool> WorkConsumer::flush(milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  if (!connected()) return retries_.empty();
  for (;;) {
    if (auto r = send_settlements(); !r) return lost(r.error());
    if (auto r = expire_retries(); !r) return lost(r.error());
    bool idle = retries_.empty();
    {
      std::lock_guard lock(mutex_);
      idle = idle && queued_.empty();
    }
    if (idle) return true;
    if (Clock::now() >= deadline) return false;
    auto ev = connection_->wait(std::min(kSlice, remaining(deadline)));
    if (!ev) return lost(ev.error());
    if (*ev)
      if (auto r = handle(std::move(**ev)); !r) return lost(r.error());
  }
}

// ---------------------------------------------------------------- from the configuration

Outcome<QueueSettings> queue_settings(const config::Queue& q, std::string_view instance) {
  auto broker = parse_amqp_url(q.url);
  if (!broker) return broker.error();
  QueueSettings s;
  s.broker = std::move(*broker);
  s.topology.retry_tiers = q.retry_tiers;
  const std::string name = instance.empty() ? "dossier-hub" : "dossier-hub " + std::string(instance);
  s.publisher.connection.heartbeat = q.heartbeat;
  s.publisher.connection.name = name + " publisher";
  s.publisher.batch = q.publish_batch;
  s.publisher.confirm_timeout = q.confirm_timeout;
  s.consumer.connection.heartbeat = q.heartbeat;
  s.consumer.connection.name = name + " consumer";
  s.consumer.prefetch = q.prefetch;
  s.consumer.confirm_timeout = q.confirm_timeout;
  return s;
}

}  // namespace dh::queue
