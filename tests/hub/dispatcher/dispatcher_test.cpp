// The dispatcher against an in-memory store (this file only: the real store is SQLite) whose
// completions run on a writer thread of its own, like the real one's, and a scripted HTTP client.
#include "hub/dispatcher/dispatcher.hpp"

#include <boost/asio/experimental/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

using namespace dh;
using namespace std::chrono_literals;
using connectors::HttpResult;
using store::OutboxEntry;
namespace asio = boost::asio;

namespace {

bool not_after(const Timestamp& a, const Timestamp& b) {
  return std::tie(a.utc, a.nanos) <= std::tie(b.utc, b.nanos);
}

Timestamp plus(Timestamp t, std::chrono::seconds d) {
  t.utc += d;
  return t;
}

// ---------------------------------------------------------------- a store in memory

class FakeStore final : public store::Store {
 public:
  struct Retry {
    std::string id;
    Timestamp next_due;
    std::string error;
  };
  struct Dead {
    OutboxEntry entry;
    std::string reason;
  };
  struct Delivery {
    OutboxEntry entry;
    store::Delivered result;
    store::CallbackMaker make;  // what the dispatcher hands the store for the `ordered` move
  };

  FakeStore() : writer_([this] { write_loop(); }) {}
  ~FakeStore() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    writer_.join();
  }

  void add(OutboxEntry e) {
    std::lock_guard lock(mutex_);
    outbox_.push_back(Leased{std::move(e), Timestamp{}});
  }
  std::vector<Delivery> deliveries() const {
    std::lock_guard lock(mutex_);
    return deliveries_;
  }
  std::vector<Retry> retries() const {
    std::lock_guard lock(mutex_);
    return retries_;
  }
  std::vector<Dead> dead() const {
    std::lock_guard lock(mutex_);
    return dead_;
  }
  std::vector<std::vector<std::string>> skips() const {
    std::lock_guard lock(mutex_);
    return skips_;
  }
  std::size_t claims() const {
    std::lock_guard lock(mutex_);
    return skips_.size();
  }
  // While held, writes wait (as if the store's commit took that long); claims still answer.
  void hold(bool on) {
    {
      std::lock_guard lock(mutex_);
      held_ = on;
    }
    cv_.notify_all();
  }

  // --- what the dispatcher uses
  Outcome<std::vector<OutboxEntry>> claim(Timestamp now, std::chrono::seconds lease, std::size_t limit,
                                          const std::vector<std::string>& skip) override {
    std::lock_guard lock(mutex_);
    skips_.push_back(skip);
    std::vector<OutboxEntry> out;
    for (auto& l : outbox_) {
      if (out.size() >= limit) break;
      if (!not_after(l.entry.due_at, now) || !not_after(l.lease_until, now)) continue;
      if (std::find(skip.begin(), skip.end(), l.entry.target) != skip.end()) continue;
      l.lease_until = plus(now, lease);
      out.push_back(l.entry);
    }
    return out;
  }
  void delivered(const OutboxEntry& entry, store::Delivered result, Timestamp, store::CallbackMaker make,
                 store::Done<void> done) override {
    later(
        [this, entry, result, make = std::move(make)] {
          erase(entry.id);
          deliveries_.push_back(Delivery{entry, result, make});
        },
        std::move(done));
  }
  void retry_later(const OutboxEntry& entry, Timestamp next_due, std::string error, store::Done<void> done) override {
    later(
        [this, entry, next_due, error] {
          for (auto& l : outbox_) {
            if (l.entry.id != entry.id) continue;
            ++l.entry.attempts;
            l.entry.due_at = next_due;
            l.entry.last_error = error;
            l.lease_until = Timestamp{};
          }
          retries_.push_back(Retry{entry.id, next_due, error});
        },
        std::move(done));
  }
  void dead_letter(const OutboxEntry& entry, std::string reason, Timestamp, store::Done<void> done) override {
    later(
        [this, entry, reason] {
          erase(entry.id);
          dead_.push_back(Dead{entry, reason});
        },
        std::move(done));
  }
  Outcome<std::size_t> outbox_depth() override {
    std::lock_guard lock(mutex_);
    return outbox_.size();
  }

  // --- not the dispatcher's
  void extend_leases(std::vector<std::string>, Timestamp, store::Done<void> done) override { done({}); }
  Outcome<std::optional<OutboxEntry>> outbox_entry(std::string_view) override { return make_error("fake"); }
  void accept(store::AcceptRequest, store::Done<store::AcceptResult> done) override { done(make_error("fake")); }
  void record_rejection(store::Rejection, store::Done<void> done) override { done(make_error("fake")); }
  Outcome<std::optional<store::StoredDossier>> dossier(std::string_view) override { return make_error("fake"); }
  Outcome<std::vector<store::StoredDossier>> dossiers_by_code(std::string_view, std::string_view) override {
    return make_error("fake");
  }
  Outcome<std::vector<store::StatusEvent>> history(std::string_view) override { return make_error("fake"); }
  void apply_event(store::StatusEvent, store::CallbackMaker, store::Done<store::EventOutcome> done) override {
    done(make_error("fake"));
  }
  Outcome<std::vector<store::DeadLetter>> dead_letters(std::size_t, std::size_t) override { return make_error("fake"); }
  Outcome<std::optional<store::DeadLetter>> dead_letter_by_id(std::string_view) override { return make_error("fake"); }
  Outcome<std::size_t> dead_letter_count() override { return make_error("fake"); }
  void redrive(std::vector<std::string>, std::string, Timestamp, store::Done<std::size_t> done) override {
    done(make_error("fake"));
  }
  void discard(std::vector<std::string>, std::string, Timestamp, store::Done<std::size_t> done) override {
    done(make_error("fake"));
  }
  Outcome<std::vector<store::Rejection>> rejections(std::size_t, std::size_t) override { return make_error("fake"); }
  Outcome<std::vector<store::AuditEntry>> audit_for(std::string_view) override { return make_error("fake"); }
  Outcome<store::AuditCheck> verify_audit() override { return make_error("fake"); }
  bool healthy() override { return true; }

 private:
  struct Leased {
    OutboxEntry entry;
    Timestamp lease_until;
  };
  // Like the real store: the write and the completion happen on the writer thread.
  void later(std::function<void()> write, store::Done<void> done) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back([this, write = std::move(write), done = std::move(done)] {
        {
          std::lock_guard inner(mutex_);
          write();
        }
        done(Outcome<void>{});
      });
    }
    cv_.notify_all();
  }
  void write_loop() {
    std::unique_lock lock(mutex_);
    for (;;) {
      cv_.wait(lock, [this] { return stopping_ || (!held_ && !queue_.empty()); });
      if (queue_.empty()) return;
      auto job = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      job();
      lock.lock();
    }
  }
  void erase(const std::string& id) {
    outbox_.erase(std::remove_if(outbox_.begin(), outbox_.end(), [&](const Leased& l) { return l.entry.id == id; }),
                  outbox_.end());
  }

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  bool held_ = false;
  std::vector<Leased> outbox_;
  std::vector<Delivery> deliveries_;
  std::vector<Retry> retries_;
  std::vector<Dead> dead_;
  std::vector<std::vector<std::string>> skips_;
  std::thread writer_;  // last: it starts once everything above exists
};

// ---------------------------------------------------------------- a scripted HTTP client

class ScriptedClient final : public connectors::HttpClient {
 public:
  struct Call {
    std::string url;
    std::string content_type;
    std::string body;
    connectors::Headers headers;
  };
  // The answer to the n-th call (from 0) to a URL.
  std::function<HttpResult(const std::string& url, int n)> script;
  std::chrono::milliseconds delay{0};  // before answering
  std::vector<Call> calls;
  std::size_t in_flight = 0;
  std::size_t max_in_flight = 0;

  asio::awaitable<HttpResult> post(std::string url, std::string content_type, std::string body,
                                   connectors::Headers headers) override {
    const int n =
        static_cast<int>(std::count_if(calls.begin(), calls.end(), [&](const Call& c) { return c.url == url; }));
    calls.push_back(Call{url, content_type, body, headers});
    max_in_flight = std::max(max_in_flight, ++in_flight);
    if (delay.count() > 0) {
      asio::steady_timer t(co_await asio::this_coro::executor, delay);
      co_await t.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    }
    --in_flight;
    co_return script(url, n);
  }
  std::size_t calls_to(const std::string& url) const {
    return static_cast<std::size_t>(
        std::count_if(calls.begin(), calls.end(), [&](const Call& c) { return c.url == url; }));
  }
};

HttpResult status(unsigned code, std::string body = "") {
  HttpResult r;
  r.status = code;
  r.body = std::move(body);
  return r;
}

HttpResult timeout() {
  HttpResult r;
  r.error = connectors::NetworkError::timeout;
  return r;
}

const std::string kPostal = "https://postal.test/v1/orders";
const std::string kDown = "https://down.test/v1/orders";
const std::string kAgency = "https://agency.test/callback";

OutboxEntry entry(std::string id, std::string target, std::string url,
                  store::OutboxKind kind = store::OutboxKind::postal_order) {
  OutboxEntry e;
  e.id = std::move(id);
  e.kind = kind;
  e.target = std::move(target);
  e.hub_id = "H-" + e.id;
  e.url = std::move(url);
  e.content_type = "application/json";
  e.payload = R"({"order_id":")" + e.id + R"("})";
  return e;
}

config::Dispatcher fast_settings() {
  config::Dispatcher d;
  d.max_attempts = 5;
  d.backoff.initial = 1ms;
  d.backoff.max = 1ms;
  d.backoff.jitter = 0;
  d.poll = 2ms;
  d.breaker.failures = 100;
  return d;
}

// Runs the io_context on this thread until `done()`, at most 10 s.
bool run_until(asio::io_context& io, const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    io.restart();
    io.run_for(2ms);
  }
  return true;
}

void stop(asio::io_context& io, dispatcher::Dispatcher& d) {
  bool stopped = false;
  d.stop([&] { stopped = true; });
  REQUIRE(run_until(io, [&] { return stopped; }));
}

double counter(obs::Registry& m, const std::string& name, const obs::Labels& labels) {
  return m.counter(name, "", labels).value();
}

}  // namespace

TEST_CASE("dispatcher: a retry, then delivered, with the idempotency key each time", "[dispatcher]") {
  asio::io_context io;
  FakeStore store;
  store.add(entry("E1", "postal", kPostal));
  ScriptedClient client;
  client.script = [](const std::string&, int n) {
    return n == 0 ? status(503) : status(201, R"({"item_code":"EB000000015VN"})");
  };
  obs::Registry metrics;
  dispatcher::Dispatcher d(io, store, client, fast_settings(), metrics);
  d.start();
  REQUIRE(run_until(io, [&] { return store.deliveries().size() == 1; }));
  stop(io, d);

  REQUIRE(client.calls.size() == 2);
  for (const auto& c : client.calls) {
    CHECK(c.url == kPostal);
    CHECK(c.content_type == "application/json");
    CHECK(c.body == R"({"order_id":"E1"})");
    CHECK(c.headers == connectors::Headers{{"Idempotency-Key", "E1"}});
  }
  const auto retries = store.retries();
  REQUIRE(retries.size() == 1);
  CHECK(retries[0].error == "503");
  const auto deliveries = store.deliveries();
  CHECK(deliveries[0].entry.attempts == 1);
  CHECK(deliveries[0].result.item_code == "EB000000015VN");
  CHECK(store.dead().empty());
  CHECK(counter(metrics, "dossier_hub_dispatch_total", {{"target", "postal"}, {"outcome", "retry"}}) == 1);
  CHECK(counter(metrics, "dossier_hub_dispatch_total", {{"target", "postal"}, {"outcome", "delivered"}}) == 1);
  CHECK(counter(metrics, "dossier_hub_dead_letters_total", {{"target", "postal"}}) == 0);
  const std::string text = metrics.exposition();
  CHECK(text.find("dossier_hub_dispatch_seconds_count{target=\"postal\"} 2") != std::string::npos);
  CHECK(text.find("dossier_hub_outbox_depth") != std::string::npos);
}

TEST_CASE("dispatcher: a delivered order hands the store the callbacks of the ordered move", "[dispatcher]") {
  asio::io_context io;
  FakeStore store;
  store.add(entry("E1", "postal", kPostal));
  ScriptedClient client;
  client.script = [](const std::string&, int) { return status(201, R"({"item_code":"EB000000015VN"})"); };
  obs::Registry metrics;
  dispatcher::Dispatcher d(io, store, client, fast_settings(), metrics);
  std::vector<std::string> asked;
  d.report_ordered([&](const store::StoredDossier&, const store::StatusEvent& e) {
    asked.push_back(std::string(to_string(e.status)));
    return std::vector<OutboxEntry>{};
  });
  d.start();
  REQUIRE(run_until(io, [&] { return store.deliveries().size() == 1; }));
  stop(io, d);

  const auto deliveries = store.deliveries();
  REQUIRE(deliveries[0].make);
  store::StatusEvent ordered;
  ordered.status = Status::ordered;
  deliveries[0].make(store::StoredDossier{}, ordered);
  CHECK(asked == std::vector<std::string>{"ordered"});
}

TEST_CASE("dispatcher: the delay is the backoff, or the partner's Retry-After when longer", "[dispatcher]") {
  asio::io_context io;
  FakeStore store;
  store.add(entry("E1", "postal", kPostal));
  ScriptedClient client;
  client.script = [](const std::string&, int) {
    HttpResult r = status(429);
    r.retry_after = "120";
    return r;
  };
  auto settings = fast_settings();
  settings.backoff.initial = 10s;
  settings.backoff.max = 60s;  // caps the partner's 120 s
  const auto now = std::chrono::sys_days{std::chrono::year{2025} / 1 / 15};
  dispatcher::Clocks clocks;
  clocks.system = [now] { return now; };
  obs::Registry metrics;
  dispatcher::Dispatcher d(io, store, client, settings, metrics, clocks);
  d.start();
  REQUIRE(run_until(io, [&] { return store.retries().size() == 1; }));
  stop(io, d);
  CHECK(store.retries()[0].next_due.utc == now + 60s);
  CHECK(store.retries()[0].error == "429");
}

TEST_CASE("dispatcher: dead letter after max_attempts", "[dispatcher]") {
  asio::io_context io;
  FakeStore store;
  store.add(entry("E1", "postal", kPostal));
  ScriptedClient client;
  client.script = [](const std::string&, int) { return timeout(); };
  auto settings = fast_settings();
  settings.max_attempts = 3;
  obs::Registry metrics;
  dispatcher::Dispatcher d(io, store, client, settings, metrics);
  d.start();
  REQUIRE(run_until(io, [&] { return store.dead().size() == 1; }));
  stop(io, d);
  CHECK(client.calls.size() == 3);
  CHECK(store.retries().size() == 2);
  const auto dead = store.dead();
  CHECK(dead[0].entry.id == "E1");
  CHECK(dead[0].entry.attempts == 2);
  CHECK(dead[0].reason == "gave up after 3 attempts; last: timeout");
  CHECK(counter(metrics, "dossier_hub_dead_letters_total", {{"target", "postal"}}) == 1);
  CHECK(counter(metrics, "dossier_hub_dispatch_total", {{"target", "postal"}, {"outcome", "retry"}}) == 3);
}

TEST_CASE("dispatcher: a reject goes to dead letters at once, and callbacks need no item code", "[dispatcher]") {
  asio::io_context io;
  FakeStore store;
  store.add(entry("E1", "postal", kPostal));
  store.add(entry("E2", "postal", kPostal));
  store.add(entry("C1", "hcm-justice", kAgency, store::OutboxKind::agency_callback));
  ScriptedClient client;
  client.script = [](const std::string& url, int n) {
    if (url == kAgency) return status(204);
    return n == 0 ? status(422) : status(201, "{}");  // the second: 201 without an item code
  };
  obs::Registry metrics;
  dispatcher::Dispatcher d(io, store, client, fast_settings(), metrics);
  d.start();
  REQUIRE(run_until(io, [&] { return store.dead().size() == 2 && store.deliveries().size() == 1; }));
  stop(io, d);
  CHECK(client.calls.size() == 3);
  CHECK(store.retries().empty());
  auto dead = store.dead();
  std::sort(dead.begin(), dead.end(), [](const auto& a, const auto& b) { return a.entry.id < b.entry.id; });
  CHECK(dead[0].reason == "rejected: 422");
  CHECK(dead[1].reason.rfind("rejected: 201 without a valid item_code", 0) == 0);
  CHECK(store.deliveries()[0].entry.id == "C1");
  CHECK_FALSE(store.deliveries()[0].result.item_code);
  CHECK(counter(metrics, "dossier_hub_dispatch_total", {{"target", "postal"}, {"outcome", "reject"}}) == 2);
  CHECK(counter(metrics, "dossier_hub_dead_letters_total", {{"target", "postal"}}) == 2);
}

TEST_CASE("dispatcher: entries go where the resolver says now, with its headers, or to the URL they were queued with",
          "[dispatcher]") {
  asio::io_context io;
  FakeStore store;
  store.add(entry("E1", "postal", "https://old-postal.test/v1/orders"));
  store.add(entry("C1", "gone-agency", kAgency, store::OutboxKind::agency_callback));
  ScriptedClient client;
  client.script = [](const std::string& url, int) {
    return url == kPostal ? status(201, R"({"item_code":"EB000000015VN"})") : status(204);
  };
  obs::Registry metrics;
  dispatcher::Dispatcher d(io, store, client, fast_settings(), metrics);
  std::vector<std::string> asked;
  d.resolve_destinations([&](const OutboxEntry& e) -> std::optional<dispatcher::Destination> {
    asked.push_back(e.id);
    if (e.target != "postal") return std::nullopt;
    return dispatcher::Destination{kPostal, {{"SOAPAction", "\"urn:x\""}}};
  });
  d.start();
  REQUIRE(run_until(io, [&] { return store.deliveries().size() == 2; }));
  stop(io, d);
  REQUIRE(client.calls.size() == 2);
  auto calls = client.calls;
  std::sort(calls.begin(), calls.end(), [](const auto& a, const auto& b) { return a.url < b.url; });
  CHECK(calls[0].url == kAgency);
  CHECK(calls[0].headers == connectors::Headers{{"Idempotency-Key", "C1"}});
  CHECK(calls[1].url == kPostal);
  CHECK(calls[1].headers == connectors::Headers{{"SOAPAction", "\"urn:x\""}, {"Idempotency-Key", "E1"}});
  std::sort(asked.begin(), asked.end());
  CHECK(asked == std::vector<std::string>{"C1", "E1"});
  CHECK(store.retries().empty());
}

TEST_CASE("dispatcher: at most `concurrency` requests in flight, and all get done", "[dispatcher]") {
  asio::io_context io;
  FakeStore store;
  for (int i = 0; i < 10; ++i) store.add(entry("E" + std::to_string(i), "postal", kPostal));
  ScriptedClient client;
  client.delay = 5ms;
  client.script = [](const std::string&, int) { return status(201, R"({"item_code":"EB000000015VN"})"); };
  auto settings = fast_settings();
  settings.concurrency = 3;
  obs::Registry metrics;
  dispatcher::Dispatcher d(io, store, client, settings, metrics);
  d.start();
  REQUIRE(run_until(io, [&] { return store.deliveries().size() == 10; }));
  stop(io, d);
  CHECK(client.max_in_flight == 3);
  CHECK(client.calls.size() == 10);
}

TEST_CASE("dispatcher: a slow commit does not hold a request's place, and at most 4 x concurrency are taken",
          "[dispatcher]") {
  asio::io_context io;
  FakeStore store;
  for (int i = 0; i < 12; ++i) store.add(entry("E" + std::to_string(i), "postal", kPostal));
  store.hold(true);
  ScriptedClient client;
  client.script = [](const std::string&, int) { return status(201, R"({"item_code":"EB000000015VN"})"); };
  auto settings = fast_settings();
  settings.concurrency = 2;
  obs::Registry metrics;
  dispatcher::Dispatcher d(io, store, client, settings, metrics);
  d.start();
  // Nothing is committed, yet the answered requests make room for more, until 8 outcomes wait.
  REQUIRE(run_until(io, [&] { return client.calls.size() == 8; }));
  io.restart();
  io.run_for(50ms);
  CHECK(client.calls.size() == 8);
  CHECK(store.deliveries().empty());
  CHECK(client.max_in_flight <= 2);
  store.hold(false);
  REQUIRE(run_until(io, [&] { return store.deliveries().size() == 12; }));
  stop(io, d);
  CHECK(client.calls.size() == 12);
}

TEST_CASE("dispatcher: the breaker opens, its target is skipped, a trial closes it again", "[dispatcher]") {
  asio::io_context io;
  FakeStore store;
  for (int i = 1; i <= 4; ++i) store.add(entry("D" + std::to_string(i), "down", kDown));
  for (int i = 1; i <= 3; ++i) store.add(entry("U" + std::to_string(i), "up", kPostal));
  bool down_recovered = false;
  ScriptedClient client;
  client.script = [&](const std::string& url, int) {
    if (url == kDown && !down_recovered) return timeout();
    return status(201, R"({"item_code":"EB000000015VN"})");
  };
  auto settings = fast_settings();
  settings.breaker.failures = 2;
  settings.breaker.open_for = 30s;
  settings.backoff.initial = 1h;  // a failed entry does not come back during the test
  settings.backoff.max = 1h;
  settings.concurrency = 1;
  auto steady_now = std::chrono::steady_clock::time_point{} + 1000h;
  dispatcher::Clocks clocks;
  clocks.steady = [&steady_now] { return steady_now; };
  obs::Registry metrics;
  dispatcher::Dispatcher d(io, store, client, settings, metrics, clocks);
  d.start();
  REQUIRE(run_until(io, [&] { return store.deliveries().size() == 3; }));
  // Two failures opened it; the other two entries of the target were never sent.
  CHECK(client.calls_to(kDown) == 2);
  CHECK(d.breaker_state("down") == dispatcher::CircuitBreaker::State::open);
  CHECK(metrics.gauge("dossier_hub_breaker_open", "", {{"target", "down"}}).value() == 1);
  const auto skips = store.skips();
  CHECK(std::find(skips.back().begin(), skips.back().end(), "down") != skips.back().end());
  // Still open a while later.
  const auto claims = store.claims();
  REQUIRE(run_until(io, [&] { return store.claims() > claims + 5; }));
  CHECK(client.calls_to(kDown) == 2);

  // open_for passes: one trial; it succeeds, the breaker closes and the rest follow.
  down_recovered = true;
  steady_now += 30s;
  REQUIRE(run_until(io, [&] { return store.deliveries().size() == 5; }));
  stop(io, d);
  CHECK(d.breaker_state("down") == dispatcher::CircuitBreaker::State::closed);
  CHECK(metrics.gauge("dossier_hub_breaker_open", "", {{"target", "down"}}).value() == 0);
  CHECK(client.calls_to(kDown) == 4);
  CHECK(store.retries().size() == 2);
}

TEST_CASE("dispatcher: stop lets the request in flight finish and records it", "[dispatcher]") {
  asio::io_context io;
  FakeStore store;
  store.add(entry("E1", "postal", kPostal));
  ScriptedClient client;
  client.delay = 50ms;
  client.script = [](const std::string&, int) { return status(201, R"({"item_code":"EB000000015VN"})"); };
  obs::Registry metrics;
  dispatcher::Dispatcher d(io, store, client, fast_settings(), metrics);
  d.start();
  REQUIRE(run_until(io, [&] { return d.in_flight() == 1; }));
  bool stopped = false;
  d.stop([&] { stopped = true; });
  REQUIRE(run_until(io, [&] { return stopped; }));
  CHECK(store.deliveries().size() == 1);
  CHECK(d.in_flight() == 0);
  store.add(entry("E2", "postal", kPostal));
  const auto claims = store.claims();
  io.restart();
  io.run_for(20ms);
  CHECK(store.claims() == claims);  // stopped: nothing is claimed any more
}

TEST_CASE("dispatcher, queue mode: each delivery is sent, recorded, then settled by its outcome", "[dispatcher]") {
  asio::io_context io;
  FakeStore store;
  ScriptedClient client;
  client.script = [](const std::string&, int n) {
    if (n == 0) return status(201, R"({"item_code":"EB000000015VN"})");
    if (n == 1) return status(503);
    return status(422);
  };
  const auto now = std::chrono::sys_days{std::chrono::year{2025} / 1 / 15};
  dispatcher::Clocks clocks;
  clocks.system = [now] { return now; };
  auto settings = fast_settings();
  settings.backoff.initial = 2s;
  settings.backoff.max = 2s;
  obs::Registry metrics;
  dispatcher::Dispatcher d(io, store, client, settings, metrics, clocks);
  d.start_queue_mode(15min);
  using What = dispatcher::Dispatcher::Settlement::What;
  std::vector<std::pair<std::string, dispatcher::Dispatcher::Settlement>> settled;
  for (const char* id : {"E1", "E2", "E3"}) {  // one at a time: the script answers by call number
    d.dispatch(entry(id, "postal", kPostal),
               [&settled, id](dispatcher::Dispatcher::Settlement s) { settled.emplace_back(id, std::move(s)); });
    const std::size_t want = settled.size() + 1;
    REQUIRE(run_until(io, [&] { return settled.size() == want; }));
  }
  stop(io, d);
  REQUIRE(settled.size() == 3);
  CHECK(settled[0].second.what == What::delivered);
  CHECK(settled[1].second.what == What::retry);
  CHECK(settled[1].second.delay == 2s);  // the queue brings it back after the backoff
  CHECK(settled[2].second.what == What::dead_lettered);
  // Recorded before settled, as in claim mode; the store's due time of a retry is only the safety
  // net, the slack after the queue's delay.
  REQUIRE(store.deliveries().size() == 1);
  CHECK(store.deliveries()[0].result.item_code == "EB000000015VN");
  REQUIRE(store.retries().size() == 1);
  CHECK(store.retries()[0].next_due.utc == now + 2s + 15min);
  REQUIRE(store.dead().size() == 1);
  CHECK(store.dead()[0].reason == "rejected: 422");
}

TEST_CASE("dispatcher, queue mode: an open breaker defers a delivery without sending it", "[dispatcher]") {
  asio::io_context io;
  FakeStore store;
  ScriptedClient client;
  client.script = [](const std::string&, int) { return status(503); };
  auto settings = fast_settings();
  settings.breaker.failures = 1;
  settings.breaker.open_for = 30s;
  obs::Registry metrics;
  dispatcher::Dispatcher d(io, store, client, settings, metrics);
  d.start_queue_mode(15min);
  std::vector<dispatcher::Dispatcher::Settlement> settled;
  auto keep = [&settled](dispatcher::Dispatcher::Settlement s) { settled.push_back(std::move(s)); };
  d.dispatch(entry("E1", "postal", kPostal), keep);
  REQUIRE(run_until(io, [&] { return settled.size() == 1; }));  // 503: the breaker opens
  d.dispatch(entry("E2", "postal", kPostal), keep);
  REQUIRE(run_until(io, [&] { return settled.size() == 2; }));
  stop(io, d);
  using What = dispatcher::Dispatcher::Settlement::What;
  CHECK(settled[0].what == What::retry);
  CHECK(settled[1].what == What::deferred);
  CHECK(settled[1].delay == 30s);
  CHECK(client.calls.size() == 1);     // E2 was never sent
  CHECK(store.retries().size() == 1);  // nor counted as an attempt
}
