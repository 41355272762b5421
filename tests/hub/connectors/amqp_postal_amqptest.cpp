// The AMQP postal connector against a live RabbitMQ (tests/servers/rabbitmq.sh; ctest starts it as
// the `rabbitmq` fixture, DH_AMQP_URL), with the real dispatcher on a real SQLite store. The test
// plays the postal core: it takes orders from the order queue and publishes replies. Each test
// uses queues of its own and deletes them after. Waits poll for a condition with a generous
// deadline and then assert the condition itself, never a duration.
#include "hub/connectors/amqp_postal.hpp"
#include "hub/queue/confirmed_publish.hpp"
#include "hub/queue/postal_queues.hpp"
#include "tests/hub/store/store_fixture.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <thread>
#include <unistd.h>

using namespace dh;
using namespace dh::store::testing;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

queue::BrokerAddress broker() {
  const char* url = std::getenv("DH_AMQP_URL");
  auto b = queue::parse_amqp_url(url && *url ? url : "amqp://guest:guest@127.0.0.1:55672/");
  REQUIRE(b.has_value());
  return *b;
}

std::unique_ptr<queue::Connection> connect(const std::string& name) {
  queue::ConnectionOptions o;
  o.connect_timeout = 3s;
  o.operation_timeout = 3s;
  o.name = name;
  // Right after a broker restart the first attempts may fail: a few tries.
  for (int i = 0; i < 50; ++i) {
    if (auto c = queue::Connection::open(broker(), o)) return std::move(*c);
    std::this_thread::sleep_for(200ms);
  }
  FAIL("cannot connect to the test broker");
  return nullptr;
}

template <class Pred>
bool eventually(Pred pred, std::chrono::seconds within = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

// No agency callbacks in these tests: an HTTP client that is never asked.
class NoHttp final : public connectors::HttpClient {
 public:
  asio::awaitable<connectors::HttpResult> post(std::string, std::string, std::string, connectors::Headers) override {
    connectors::HttpResult r;
    r.error = connectors::NetworkError::refused;
    co_return r;
  }
};

// The hub's side: a store, the dispatcher (claim loop) and the connector for target "vnpost".
struct Hub {
  TempDir dir;
  std::unique_ptr<store::Store> store;
  obs::Registry metrics;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> guard = asio::make_work_guard(io);
  NoHttp http;
  std::optional<dispatcher::Dispatcher> dispatch;
  std::optional<connectors::AmqpPostal> postal;
  connectors::AmqpPostalOptions options;
  std::thread runner;

  explicit Hub(const std::string& name) {
    store = store::open_sqlite(store::SqliteOptions{dir.file(), 64, 5000ms});
    options.endpoint = "vnpost";
    options.broker = broker();
    const std::string prefix = "dhtest.postal." + name + "." + std::to_string(::getpid()) + ".";
    options.order_queue = prefix + "orders";
    options.reply_queue = prefix + "replies";
    options.reply_timeout = 10min;
    options.confirm_timeout = 5s;
    options.connection.connect_timeout = 3s;
    options.connection.operation_timeout = 3s;
    options.connection.name = "test hub " + name;
    config::Dispatcher d;
    d.poll = 20ms;
    d.lease = 60s;
    d.max_attempts = 5;
    d.backoff.initial = 100ms;
    dispatch.emplace(io, *store, http, d, metrics);
    postal.emplace(options, *store, metrics);
    dispatch->use_connector("vnpost", *postal);
  }
  void start() {
    postal->start(*dispatch);
    dispatch->start();
    runner = std::thread([this] { io.run(); });
  }
  ~Hub() {
    std::promise<void> stopped;
    dispatch->stop([&] { stopped.set_value(); });
    if (runner.joinable()) {
      stopped.get_future().wait_for(10s);
      postal->stop();
      guard.reset();
      io.stop();
      runner.join();
    }
    postal->stop();
    auto c = connect("test cleanup");
    for (const auto& q : {options.order_queue, options.reply_queue, queue::reply_dead_queue(options.reply_queue)})
      (void)c->delete_queue(q);
  }
  std::vector<store::OutboxEntry> accept(const std::string& key, int n) {
    auto r = make_accept(key, n);
    auto entries = r.outbox;
    REQUIRE(accept_sync(*store, std::move(r)));
    return entries;
  }
  Status status(const std::string& hub_id) { return store->dossier(hub_id).value()->status; }
  // Every write submitted so far has been committed (the writer is first in, first out).
  void settle_writes() {
    Pending<void> p;
    store::OutboxEntry none;
    none.id = "no-such-entry";
    store->retry_later(none, at(), "", p.done());
    REQUIRE(p.get());
  }
};

// The postal core's side: takes orders from the queue, publishes replies with confirms.
struct PostalCore {
  const connectors::AmqpPostalOptions& o;
  std::unique_ptr<queue::Connection> in, out;
  explicit PostalCore(const connectors::AmqpPostalOptions& options) : o(options) { open(); }
  void open() {
    in = connect("test postal core in");
    REQUIRE(queue::declare_order_queue(*in, o.order_queue));
    REQUIRE(in->set_prefetch(100));
    REQUIRE(in->consume(o.order_queue));
    out = connect("test postal core out");
    REQUIRE(out->enable_confirms());
  }
  std::vector<queue::Deliver> take(std::size_t n, std::chrono::seconds within = 30s) {
    std::vector<queue::Deliver> got;
    const auto deadline = std::chrono::steady_clock::now() + within;
    while (got.size() < n && std::chrono::steady_clock::now() < deadline) {
      auto ev = in->wait(100ms);
      if (!ev) {  // the broker went away (a restart): consume again; unacked orders come back
        open();
        continue;
      }
      if (*ev)
        if (auto* d = std::get_if<queue::Deliver>(&**ev)) {
          REQUIRE(in->ack(d->tag));
          got.push_back(std::move(*d));
        }
    }
    REQUIRE(got.size() == n);
    return got;
  }
  void reply(const std::string& correlation_id, const std::string& body) {
    queue::Message m;
    m.message_id = "reply-" + correlation_id;
    m.correlation_id = correlation_id;
    m.content_type = "application/json";
    m.body = body;
    const std::vector<queue::Outgoing> batch{{"", o.reply_queue, m}};
    const auto r = queue::publish_confirmed(*out, batch, 5s);
    REQUIRE(r.confirmed.size() == 1);
  }
};

std::uint32_t ready(const std::string& queue_name) {
  auto c = connect("test look");
  auto n = c->ready_count(queue_name);
  REQUIRE(n.has_value());
  return *n;
}

}  // namespace

TEST_CASE("an order goes to the queue with the contract's properties, and once confirmed its lease is extended",
          "[amqp]") {
  Hub hub("publish");
  const auto entries = hub.accept("AP-1", 1);
  PostalCore core(hub.options);
  hub.start();
  const auto orders = core.take(1);
  const queue::Message& m = orders[0].message;
  CHECK(m.message_id == entries[0].id);
  CHECK(m.correlation_id == entries[0].id);
  CHECK(m.reply_to == hub.options.reply_queue);
  CHECK(m.content_type == "application/json");
  CHECK(m.type == queue::kPostalOrderType);
  CHECK(m.persistent);
  CHECK(m.body == entries[0].payload);  // the order as rendered at accept, unchanged

  REQUIRE(eventually([&] { return hub.postal->stats().published == 1; }));
  REQUIRE(eventually([&] { return hub.metrics.exposition().find("outcome=\"handed_over\"} 1") != std::string::npos; }));
  hub.settle_writes();
  // Handed over, not delivered: the entry is still in the outbox, leased for reply_timeout (10
  // minutes) rather than the claim's 60 s, so no claim takes it before then.
  auto still = hub.store->outbox_entry(entries[0].id);
  REQUIRE(still);
  REQUIRE(still->has_value());
  CHECK((*still)->attempts == 0);
  const auto now = Timestamp::from_system(std::chrono::system_clock::now());
  auto in_5_minutes = now;
  in_5_minutes.utc += 5min;
  auto early = hub.store->claim(in_5_minutes, 1s, 10, {});
  REQUIRE(early);
  CHECK(early->empty());
  auto in_11_minutes = now;
  in_11_minutes.utc += 11min;
  auto late = hub.store->claim(in_11_minutes, 1s, 10, {});
  REQUIRE(late);
  CHECK(late->size() == 1);  // no reply by then: claimed, to be published again
  CHECK(hub.status(entries[0].hub_id) == Status::accepted);
}

TEST_CASE("replies are recorded by the intake contract's rules: 201 and 409 ordered, 4xx dead letter, 5xx retry",
          "[amqp]") {
  Hub hub("replies");
  const auto e = hub.accept("AP-2", 4);
  PostalCore core(hub.options);
  hub.start();
  const auto orders = core.take(4);
  std::map<std::string, std::string> body_of{
      {e[0].id, R"({"status":201,"item_code":"EB000000014VN","order_id":"x"})"},
      {e[1].id, R"({"status":409,"item_code":"EB000000028VN","duplicate":true})"},
      {e[2].id, R"({"status":422,"type":"invalid-order","title":"The order is not valid"})"},
      {e[3].id, R"({"status":503,"title":"The postal core is unavailable"})"},
  };
  for (const auto& o : orders) core.reply(o.message.correlation_id, body_of.at(o.message.correlation_id));

  REQUIRE(eventually([&] { return hub.postal->stats().replies_recorded == 4; }));
  const auto first = hub.store->dossier(e[0].hub_id).value();
  CHECK(first->status == Status::ordered);
  CHECK(first->item_code == "EB000000014VN");
  const auto duplicate = hub.store->dossier(e[1].hub_id).value();
  CHECK(duplicate->status == Status::ordered);
  CHECK(duplicate->item_code == "EB000000028VN");
  CHECK(hub.status(e[2].hub_id) == Status::dead_lettered);
  const auto dead = hub.store->dead_letter_by_id(e[2].id).value();
  REQUIRE(dead.has_value());
  CHECK(dead->reason == "rejected: reply 422");
  // 503: a failed attempt, due again after the backoff; the claim loop publishes it again and
  // the postal core gets the same order (same message_id) a second time.
  const auto again = core.take(1);
  CHECK(again[0].message.message_id == e[3].id);
  const auto retried = hub.store->outbox_entry(e[3].id).value();
  REQUIRE(retried.has_value());
  CHECK(retried->attempts == 1);
  CHECK(retried->last_error == "reply 503");
  core.reply(e[3].id, R"({"status":201,"item_code":"EB000000031VN"})");
  REQUIRE(eventually([&] { return hub.status(e[3].hub_id) == Status::ordered; }));
  CHECK(hub.postal->stats().replies_unknown == 0);
  CHECK(hub.postal->stats().replies_unreadable == 0);
  CHECK(ready(hub.options.reply_queue) == 0);  // every reply acked
}

TEST_CASE("a reply for an entry no longer in the outbox is acked and counted, an unreadable one dead-lettered",
          "[amqp]") {
  Hub hub("unknown");
  const auto e = hub.accept("AP-3", 1);
  PostalCore core(hub.options);
  hub.start();
  const auto orders = core.take(1);
  core.reply(e[0].id, R"({"status":201,"item_code":"EB000000014VN"})");
  REQUIRE(eventually([&] { return hub.status(e[0].hub_id) == Status::ordered; }));
  // The same reply again (the postal core answered twice), and one for an order never placed.
  core.reply(e[0].id, R"({"status":201,"item_code":"EB000000014VN"})");
  core.reply("no-such-order", R"({"status":201,"item_code":"EB000000028VN"})");
  REQUIRE(eventually([&] { return hub.postal->stats().replies_unknown == 2; }));
  CHECK(hub.status(e[0].hub_id) == Status::ordered);
  // Not JSON, no status, no correlation id: to the dead-letter queue beside the reply queue.
  core.reply(e[0].id, "not json");
  core.reply(e[0].id, R"({"item_code":"EB000000014VN"})");
  core.reply("", R"({"status":201,"item_code":"EB000000014VN"})");
  REQUIRE(eventually([&] { return hub.postal->stats().replies_unreadable == 3; }));
  REQUIRE(eventually([&] { return ready(queue::reply_dead_queue(hub.options.reply_queue)) == 3; }));
  CHECK(ready(hub.options.reply_queue) == 0);
  CHECK(hub.postal->stats().replies_recorded == 1);
}

TEST_CASE("a broker restart while orders wait in the queue loses none of them", "[amqp]") {
  Hub hub("restart");
  const auto e = hub.accept("AP-4", 20);
  hub.start();
  REQUIRE(eventually([&] { return hub.postal->stats().published == 20; }));
  REQUIRE(std::system("bash " DH_SOURCE_DIR "/tests/servers/rabbitmq.sh restart >/dev/null 2>&1") == 0);
  // The orders were confirmed into a quorum queue: they are there after the restart, once.
  PostalCore core(hub.options);
  const auto orders = core.take(20, 60s);
  std::set<std::string> ids;
  for (const auto& o : orders) ids.insert(o.message.message_id);
  CHECK(ids.size() == 20);
  // The connector's reply consumer reconnects by itself and records every reply.
  std::uint32_t serial = 100;
  for (const auto& o : orders) {
    char code[16];
    std::snprintf(code, sizeof code, "EB%09uVN", serial++);  // the S10 shape
    core.reply(o.message.correlation_id, std::string(R"({"status":201,"item_code":")") + code + "\"}");
  }
  REQUIRE(eventually([&] { return hub.postal->stats().replies_recorded == 20; }, 60s));
  for (const auto& entry : e) CHECK(hub.status(entry.hub_id) == Status::ordered);
  CHECK(hub.postal->stats().connects >= 3);  // the first two, and at least one after the restart
}
