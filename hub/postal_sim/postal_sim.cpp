#include "hub/postal_sim/postal_sim.hpp"

#include "hub/common/ids.hpp"
#include "hub/connectors/https_client.hpp"
#include "hub/connectors/outcome.hpp"
#include "hub/edge/http_server.hpp"
#include "hub/edge/tls.hpp"
#include "hub/observability/log.hpp"
#include "hub/postal_sim/amqp_orders.hpp"
#include "hub/postal_sim/orders.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <deque>
#include <exception>
#include <map>
#include <optional>
#include <random>
#include <set>

namespace dh::postal_sim {

namespace asio = boost::asio;
namespace json = boost::json;
namespace http = edge::http;
using edge::Request;
using edge::Response;
using steady = std::chrono::steady_clock;
using sys = std::chrono::system_clock;
constexpr auto nothrow = asio::experimental::as_tuple(asio::use_awaitable);

namespace {

Response json_response(http::status status, const json::value& body, unsigned version,
                       std::string_view content_type = "application/json") {
  Response res{status, version};
  res.set(http::field::content_type, content_type);
  res.body() = json::serialize(body);
  res.prepare_payload();
  return res;
}

json::object problem_json(http::status status, std::string_view type, std::string_view title, std::string_view detail,
                          const FieldErrors* errors = nullptr) {
  json::object o{{"type", "https://postal-sim.invalid/problems/" + std::string(type)},
                 {"title", title},
                 {"status", static_cast<int>(status)},
                 {"detail", detail}};
  if (errors) {
    json::array list;
    for (const auto& e : errors->errors) list.push_back(json::object{{"path", e.path}, {"reason", e.reason}});
    o.emplace("errors", std::move(list));
  }
  return o;
}

Response problem(http::status status, std::string_view type, std::string_view title, std::string_view detail,
                 unsigned version, const FieldErrors* errors = nullptr) {
  return json_response(status, problem_json(status, type, title, detail, errors), version, "application/problem+json");
}

// What an order request gets, however it came (HTTPS or AMQP): a status, a JSON body (the order's
// item code, or a problem), and Retry-After on 503.
struct OrderAnswer {
  http::status status = http::status::ok;
  json::object body;
  bool problem = false;
  std::chrono::seconds retry_after{0};

  static OrderAnswer refused(http::status status, std::string_view type, std::string_view title,
                             std::string_view detail, const FieldErrors* errors = nullptr) {
    return {status, problem_json(status, type, title, detail, errors), true, std::chrono::seconds(0)};
  }
  static OrderAnswer unavailable(std::chrono::seconds retry_after, std::string_view detail) {
    OrderAnswer a = refused(http::status::service_unavailable, "unavailable", "The postal core is unavailable", detail);
    a.retry_after = std::max(std::chrono::seconds(1), retry_after);
    return a;
  }
};

Response unavailable(std::chrono::seconds retry_after, std::string_view detail, unsigned version) {
  Response res =
      problem(http::status::service_unavailable, "unavailable", "The postal core is unavailable", detail, version);
  res.set(http::field::retry_after, std::to_string(std::max<long long>(1, retry_after.count())));
  return res;
}

Timestamp vietnam_now(sys::time_point now) {
  const auto ms = std::chrono::floor<std::chrono::milliseconds>(now);
  Timestamp t;
  t.utc = std::chrono::floor<std::chrono::seconds>(ms);
  t.nanos = static_cast<std::int32_t>(std::chrono::nanoseconds(ms - t.utc).count());
  t.offset_minutes = kVietnamOffsetMinutes;
  return t;
}

sys::time_point instant(const Timestamp& t) {
  return std::chrono::time_point_cast<sys::duration>(std::chrono::sys_time<std::chrono::nanoseconds>(t.utc) +
                                                     std::chrono::nanoseconds(t.nanos));
}

bool json_media_type(std::string_view ct) {
  const auto semi = ct.find(';');
  std::string base(ct.substr(0, semi));
  while (!base.empty() && base.back() == ' ') base.pop_back();
  std::transform(base.begin(), base.end(), base.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return base == "application/json";
}

// One event to push: event `index` of an order's plan. A duplicate is the second sending.
struct EventRef {
  std::string order_id;
  std::size_t index = 0;
  bool duplicate = false;
};

}  // namespace

struct PostalSim::Impl final : edge::RequestHandler {
  Impl(asio::io_context& io_, SimConfig config)
      : io(io_),
        cfg(std::move(config)),
        faults(cfg.faults),
        book(cfg.journal),
        rng(cfg.seed ? cfg.seed : std::random_device{}()),
        server_tls(edge::make_server_context(cfg.tls)),
        client_tls(edge::make_client_context(cfg.client_tls)),
        client(client_tls, connectors::ClientOptions{cfg.hub_timeout, 2, 1 << 20, std::chrono::seconds(20),
                                                     "dossier-hub-postal-sim"}),
        wake(io),
        retry_wait(io),
        flushed(io, steady::time_point::max()) {
    if (book.skipped_lines() > 0)
      obs::Log::warn("journal_lines_skipped", {{"lines", std::to_string(book.skipped_lines())}});
    note_down();
  }

  // The AMQP thread reads whether the simulator is down; the knobs belong to the io thread.
  void note_down() { down_until = faults.down_until.time_since_epoch().count(); }
  asio::awaitable<std::string> take_amqp_order(queue::Message order);

  double random() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng); }

  asio::awaitable<Response> handle(Request req, const edge::Peer& peer) override;
  asio::awaitable<Response> place_order(Request& req);
  asio::awaitable<OrderAnswer> take_order(std::string_view content_type, std::string_view body,
                                          std::optional<std::string> key);
  Response get_order(const Request& req, std::string_view order_id);
  Response admin_faults(const Request& req);
  Response record_callback(const Request& req, std::string_view agency);
  Response list_callbacks(const Request& req);
  void schedule(const Order& order);
  asio::awaitable<void> push_events();
  asio::awaitable<void> journalled(std::uint64_t flushes_seen);

  asio::io_context& io;
  SimConfig cfg;
  Faults faults;
  OrderBook book;
  std::mt19937_64 rng;
  asio::ssl::context server_tls;
  asio::ssl::context client_tls;
  std::optional<edge::HttpServer> server;
  connectors::HttpsClient client;
  std::deque<json::object> callbacks;                // agency callbacks received, the latest kCallbacksKept
  std::set<std::string, std::less<>> callback_keys;  // their Idempotency-Keys (duplicates)
  std::multimap<steady::time_point, EventRef> due;   // events to push, by when
  asio::steady_timer wake;                           // the pusher sleeps on it until the next event
  asio::steady_timer retry_wait;                     // between pushes while the hub is down
  // Group commit of the order journal: orders placed while a flush is pending share its fsync.
  asio::steady_timer flushed;  // never expires: cancelled after every flush, which wakes the waiters
  bool flush_scheduled = false;
  std::uint64_t flushes_done = 0;
  bool stopping = false;
  std::atomic<std::size_t> pushed{0};  // read by other threads (tests)
  std::atomic<std::size_t> orders{0};
  std::atomic<bool> pusher_done{false};
  std::atomic<sys::rep> down_until{0};
  std::unique_ptr<AmqpOrders> amqp;  // with the `amqp` option
};

// ---------------------------------------------------------------- requests

asio::awaitable<Response> PostalSim::Impl::handle(Request req, const edge::Peer& peer) {
  const unsigned version = req.version();
  std::string_view path(req.target().data(), req.target().size());
  path = path.substr(0, path.find('?'));
  if (path == "/healthz") co_return edge::text_response(http::status::ok, "ok\n", version);
  if (!peer.certificate || !peer.certificate_trusted)
    co_return problem(http::status::unauthorized, "unauthenticated", "A client certificate is required",
                      "present a certificate issued by the CA the simulator trusts", version);
  if (path == "/admin/faults") {
    if (req.method() != http::verb::get && req.method() != http::verb::post)
      co_return problem(http::status::method_not_allowed, "method", "Method not allowed", "use GET or POST", version);
    co_return admin_faults(req);
  }
  constexpr std::string_view kCallbacks = "/agency-callbacks";
  if (path == kCallbacks || path.rfind(std::string(kCallbacks) + "/", 0) == 0) {
    if (path == kCallbacks) {
      if (req.method() != http::verb::get)
        co_return problem(http::status::method_not_allowed, "method", "Method not allowed", "use GET", version);
      co_return list_callbacks(req);
    }
    if (peer.certificate->subject_cn != cfg.orders_cn)
      co_return problem(http::status::forbidden, "forbidden", "Only the hub sends agency callbacks",
                        "this certificate does not belong to the hub", version);
    if (req.method() != http::verb::post)
      co_return problem(http::status::method_not_allowed, "method", "Method not allowed", "use POST", version);
    co_return record_callback(req, path.substr(kCallbacks.size() + 1));
  }
  constexpr std::string_view kOrders = "/v1/orders";
  if (path != kOrders && path.rfind(std::string(kOrders) + "/", 0) != 0)
    co_return problem(http::status::not_found, "not-found", "No such resource", "see docs/postal-sim.md", version);
  if (peer.certificate->subject_cn != cfg.orders_cn)
    co_return problem(http::status::forbidden, "forbidden", "Only the hub places orders",
                      "this certificate does not belong to the hub", version);
  const auto now = sys::now();
  if (faults.down_until > now)
    co_return unavailable(std::chrono::ceil<std::chrono::seconds>(faults.down_until - now),
                          "the postal core is down (fault knob down_for)", version);
  if (path == kOrders) {
    if (req.method() != http::verb::post)
      co_return problem(http::status::method_not_allowed, "method", "Method not allowed", "use POST", version);
    co_return co_await place_order(req);
  }
  if (req.method() != http::verb::get)
    co_return problem(http::status::method_not_allowed, "method", "Method not allowed", "use GET", version);
  co_return get_order(req, path.substr(kOrders.size() + 1));
}

asio::awaitable<Response> PostalSim::Impl::place_order(Request& req) {
  const unsigned version = req.version();
  std::optional<std::string> key;
  if (req.find("Idempotency-Key") != req.end()) key = std::string(req["Idempotency-Key"]);
  const OrderAnswer a = co_await take_order(req[http::field::content_type], req.body(), std::move(key));
  Response res = json_response(a.status, a.body, version, a.problem ? "application/problem+json" : "application/json");
  if (a.retry_after.count() > 0) res.set(http::field::retry_after, std::to_string(a.retry_after.count()));
  if (!a.problem) res.set(http::field::location, "/v1/orders/" + std::string(a.body.at("order_id").as_string()));
  co_return res;
}

// The order logic of both channels. `key` is the Idempotency-Key (HTTPS) or the message_id (AMQP),
// nullopt when the request had none.
asio::awaitable<OrderAnswer> PostalSim::Impl::take_order(std::string_view content_type, std::string_view body,
                                                         std::optional<std::string> given_key) {
  if (faults.latency.count() > 0) {
    asio::steady_timer t(co_await asio::this_coro::executor);
    t.expires_after(faults.latency);
    co_await t.async_wait(nothrow);
  }
  if (faults.error_rate > 0 && random() < faults.error_rate)
    co_return OrderAnswer::unavailable(std::chrono::seconds(1), "a simulated failure (fault knob error_rate)");
  if (!json_media_type(content_type))
    co_return OrderAnswer::refused(http::status::unsupported_media_type, "media-type", "The order must be JSON",
                                   "send Content-Type: application/json");
  boost::system::error_code ec;
  json::parse_options opt;
  opt.max_depth = 16;
  const json::value v = json::parse(body, ec, {}, opt);
  if (ec || !v.is_object())
    co_return OrderAnswer::refused(http::status::bad_request, "malformed", "The order is not well-formed",
                                   "expected a JSON object");
  const FieldErrors errors = validate_order(v);
  if (!errors.empty())
    co_return OrderAnswer::refused(http::status::unprocessable_entity, "invalid-order", "The order is not valid",
                                   "see errors for every field that failed", &errors);
  const std::string order_id(v.at("order_id").get_string());
  if (given_key && (given_key->empty() || given_key->size() > 200))
    co_return OrderAnswer::refused(http::status::bad_request, "idempotency-key", "Bad Idempotency-Key",
                                   "the key must be 1 to 200 characters");
  const std::string key = given_key ? *given_key : order_id;  // the contract sends Idempotency-Key: <order_id>
  const std::string sha = sha256_hex(json::serialize(v));

  // An order of this key still waiting for the journal: its fate first (kept, or forgotten).
  if (const Order* known = book.by_key(key); known && book.pending(known->order_id)) co_await journalled(flushes_done);

  // From here to add_pending() nothing awaits: two requests with one key cannot both pass.
  auto answer = [&](http::status status, const Order& o, bool duplicate) {
    json::object b{{"item_code", o.item_code}, {"order_id", o.order_id}};
    if (duplicate) b.emplace("duplicate", true);
    return OrderAnswer{status, std::move(b), false, std::chrono::seconds(0)};
  };
  if (const Order* known = book.by_key(key)) {
    // The same order again: its first answer. The key reused for another order: 409 with the
    // waybill the key already has (the contract's "duplicate").
    obs::Log::info("order_repeated", {{"order_id", known->order_id}, {"item_code", known->item_code}});
    co_return known->sha256 == sha ? answer(http::status::ok, *known, true)
                                   : answer(http::status::conflict, *known, true);
  }
  if (const Order* known = book.by_order_id(order_id)) {
    obs::Log::info("order_repeated", {{"order_id", known->order_id}, {"item_code", known->item_code}});
    co_return answer(http::status::conflict, *known, true);
  }
  const std::uint32_t serial = book.next_serial();
  if (serial > 99'999'999u)
    co_return OrderAnswer::unavailable(std::chrono::seconds(3600), "the simulator ran out of waybill numbers");
  Order order;
  order.order_id = order_id;
  order.idempotency_key = key;
  order.item_code = make_item_code(serial);
  order.sha256 = sha;
  order.received_at = vietnam_now(sys::now());
  order.request = v.as_object();
  order.plan = plan_events(order.received_at, faults.step, faults.delivery_failure_rate, faults.reorder_events,
                           [this] { return random(); });
  book.add_pending(std::move(order));
  co_await journalled(flushes_done);
  const Order* added = book.by_order_id(order_id);
  if (!added)  // the flush failed and forgot it (journalled() logged why)
    co_return OrderAnswer::unavailable(std::chrono::seconds(5), "the simulator cannot record orders right now");
  orders = book.size();
  schedule(*added);
  obs::Log::info(
      "order_placed",
      {{"order_id", added->order_id}, {"item_code", added->item_code}, {"events", std::to_string(added->plan.size())}});
  co_return answer(http::status::created, *added, false);
}

// An order from the queue: the same logic, and the answer as the reply's JSON, its status in it.
asio::awaitable<std::string> PostalSim::Impl::take_amqp_order(queue::Message order) {
  std::optional<std::string> key;
  if (!order.message_id.empty()) key = order.message_id;
  OrderAnswer a = co_await take_order(order.content_type, order.body, std::move(key));
  a.body["status"] = static_cast<int>(a.status);
  if (a.retry_after.count() > 0) a.body["retry_after"] = a.retry_after.count();
  co_return json::serialize(a.body);
}

// Returns once a flush of the journal that started after `flushes_seen` flushes has ended. The
// first waiter runs it, after letting every request that is ready queue its order too: one fsync
// for all of them (the thread is single, so nothing appends while the flush runs).
asio::awaitable<void> PostalSim::Impl::journalled(std::uint64_t flushes_seen) {
  while (flushes_done == flushes_seen) {
    if (flush_scheduled) {
      co_await flushed.async_wait(nothrow);
      continue;
    }
    flush_scheduled = true;
    co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    if (auto written = book.flush(); !written)
      obs::Log::error("journal_write_failed", {{"error", written.error().message}});
    flush_scheduled = false;
    ++flushes_done;
    flushed.cancel();
  }
}

Response PostalSim::Impl::get_order(const Request& req, std::string_view order_id) {
  const Order* o = book.by_order_id(order_id);
  if (!o)
    return problem(http::status::not_found, "not-found", "No such order", "no order has that order_id", req.version());
  return json_response(http::status::ok, o->to_json(), req.version());
}

Response PostalSim::Impl::admin_faults(const Request& req) {
  const auto now = sys::now();
  if (req.method() == http::verb::post) {
    boost::system::error_code ec;
    const json::value v = json::parse(req.body(), ec);
    if (ec)
      return problem(http::status::bad_request, "malformed", "The faults are not JSON", "expected a JSON object",
                     req.version());
    auto applied = apply_faults(faults, v, now);
    if (!applied) {
      const FieldErrors errors = applied.error();
      return problem(http::status::unprocessable_entity, "invalid-faults", "Some fault knobs are not valid",
                     "see errors", req.version(), &errors);
    }
    faults = *applied;
    note_down();
    obs::Log::info("faults_set", {{"faults", json::serialize(faults_json(faults, now))}});
  }
  return json_response(http::status::ok, faults_json(faults, now), req.version());
}

// ---------------------------------------------------------------- agency callbacks

constexpr std::size_t kCallbacksKept = 10000;

Response PostalSim::Impl::record_callback(const Request& req, std::string_view agency) {
  if (agency.empty() || agency.find('/') != std::string_view::npos)
    return problem(http::status::not_found, "not-found", "No such agency", "POST /agency-callbacks/{agency}",
                   req.version());
  const std::string key(req["Idempotency-Key"]);
  const bool duplicate = !key.empty() && !callback_keys.insert(key).second;
  json::object recorded{{"agency", agency},
                        {"idempotency_key", key},
                        {"duplicate", duplicate},
                        {"content_type", std::string_view(req[http::field::content_type])},
                        {"received_at", vietnam_now(sys::now()).to_rfc3339()},
                        {"body", req.body()}};
  // A SOAP 1.1 agency's operation travels in a header of its own.
  if (const auto action = req.find("SOAPAction"); action != req.end()) recorded["soap_action"] = action->value();
  callbacks.push_back(std::move(recorded));
  if (callbacks.size() > kCallbacksKept) callbacks.pop_front();
  obs::Log::info(
      "agency_callback",
      {{"agency", std::string(agency)}, {"idempotency_key", key}, {"duplicate", duplicate ? "true" : "false"}});
  return json_response(http::status::ok, json::object{{"recorded", true}, {"duplicate", duplicate}}, req.version());
}

Response PostalSim::Impl::list_callbacks(const Request& req) {
  std::string_view target(req.target().data(), req.target().size());
  std::string agency;
  if (const auto q = target.find("?agency="); q != std::string_view::npos) agency = target.substr(q + 8);
  json::array list;
  for (const auto& c : callbacks)
    if (agency.empty() || c.at("agency").as_string() == agency) list.push_back(c);
  const auto n = list.size();
  return json_response(http::status::ok, json::object{{"callbacks", std::move(list)}, {"count", n}}, req.version());
}

// ---------------------------------------------------------------- events

void PostalSim::Impl::schedule(const Order& order) {
  // The order's placement on the steady clock: its events keep their offsets from it.
  const auto placed =
      steady::now() - std::chrono::duration_cast<steady::duration>(sys::now() - instant(order.received_at));
  const auto now = steady::now();
  for (std::size_t i = 0; i < order.plan.size(); ++i) {
    if (order.plan[i].acked) continue;
    due.emplace(std::max(now, placed + order.plan[i].send_after), EventRef{order.order_id, i, false});
  }
  wake.cancel();
}

asio::awaitable<void> PostalSim::Impl::push_events() {
  const std::string url = cfg.hub_url + "/v1/postal/events";
  while (!stopping) {
    auto now = steady::now();
    std::vector<EventRef> batch;
    while (!due.empty() && due.begin()->first <= now && batch.size() < cfg.batch) {
      batch.push_back(std::move(due.begin()->second));
      due.erase(due.begin());
    }
    if (batch.empty()) {
      wake.expires_at(due.empty() ? now + std::chrono::hours(1) : due.begin()->first);
      co_await wake.async_wait(nothrow);
      continue;
    }
    json::array events;
    for (const auto& ref : batch) {
      const Order* o = book.by_order_id(ref.order_id);
      if (!o) continue;
      const PlannedEvent& e = o->plan[ref.index];
      json::object ev{{"event_id", o->event_id(ref.index)},
                      {"order_id", o->order_id},
                      {"item_code", o->item_code},
                      {"status", e.status},
                      {"occurred_at", e.at.to_rfc3339()}};
      if (e.reason) ev.emplace("reason", *e.reason);
      events.push_back(std::move(ev));
      // Sent twice on purpose: the second copy goes in a later push, as a lost answer would cause.
      if (!ref.duplicate && faults.duplicate_events > 0 && random() < faults.duplicate_events)
        due.emplace(now + std::min<steady::duration>(faults.step, std::chrono::seconds(1)) / 2,
                    EventRef{ref.order_id, ref.index, true});
    }
    const std::string body = json::serialize(json::object{{"events", std::move(events)}});
    for (;;) {
      auto result = co_await client.post(url, "application/json", body, {});
      const auto c = connectors::classify_agency_callback(result, sys::now());
      if (c.outcome == connectors::Outcome::delivered) {
        std::vector<std::pair<std::string, std::size_t>> acks;
        acks.reserve(batch.size());
        for (const auto& ref : batch)
          if (book.by_order_id(ref.order_id)) acks.emplace_back(ref.order_id, ref.index);
        if (auto acked = book.ack_all(acks); !acked)
          obs::Log::error("journal_write_failed", {{"error", acked.error().message}});
        pushed += batch.size();
        obs::Log::info("events_pushed", {{"events", std::to_string(batch.size())}, {"status", c.reason}});
        break;
      }
      if (c.outcome == connectors::Outcome::reject) {
        // The hub refuses these events for good: dropped here, not acknowledged in the journal (a
        // restart sends them again, after the configuration is fixed).
        obs::Log::error("events_refused", {{"events", std::to_string(batch.size())}, {"status", c.reason}});
        break;
      }
      obs::Log::warn("events_push_failed", {{"events", std::to_string(batch.size())}, {"status", c.reason}});
      if (stopping) co_return;
      retry_wait.expires_after(std::max<std::chrono::milliseconds>(cfg.retry_interval, c.min_delay));
      co_await retry_wait.async_wait(nothrow);
      if (stopping) co_return;
    }
  }
}

// ---------------------------------------------------------------- the simulator

PostalSim::PostalSim(asio::io_context& io, SimConfig config) : impl_(std::make_unique<Impl>(io, std::move(config))) {}

PostalSim::~PostalSim() = default;

void PostalSim::start() {
  Impl& s = *impl_;
  s.orders = s.book.size();
  s.server.emplace(s.io, s.cfg.listen, &s.server_tls, config::Limits{}, s, "postal-sim");
  s.server->start();
  for (const auto& [id, order] : s.book.orders()) s.schedule(order);
  asio::co_spawn(s.io, s.push_events(), [&s](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);  // cannot happen: nothing on this path throws
    s.client.close_idle();             // a push that ended after stop() may have kept its connection
    s.pusher_done = true;
  });
  if (s.cfg.amqp) {
    s.amqp = std::make_unique<AmqpOrders>(
        *s.cfg.amqp,
        [&s](const queue::Message& order, std::function<void(std::string)> done) {
          asio::post(s.io, [&s, order, done = std::move(done)] {
            asio::co_spawn(s.io, s.take_amqp_order(order), [done](std::exception_ptr e, std::string reply) {
              if (e) std::rethrow_exception(e);  // cannot happen: nothing on this path throws
              done(std::move(reply));
            });
          });
        },
        [&s] { return sys::now().time_since_epoch().count() < s.down_until.load(); });
    s.amqp->start();
    obs::Log::info("postal_sim_consuming", {{"queue", s.cfg.amqp->queue}});
  }
  obs::Log::info("postal_sim_listening", {{"address", s.cfg.listen.address},
                                          {"port", std::to_string(s.server->port())},
                                          {"orders", std::to_string(s.book.size())},
                                          {"hub", s.cfg.hub_url}});
}

void PostalSim::stop() {
  // Orders held and not answered go back to the queue when its connection closes.
  if (impl_->amqp) impl_->amqp->stop();
  asio::post(impl_->io, [&s = *impl_] {
    s.stopping = true;
    if (s.server) s.server->stop();
    s.wake.cancel();
    s.retry_wait.cancel();
    s.client.close_idle();
  });
}

bool PostalSim::stopped() const noexcept {
  return impl_->pusher_done.load() && (!impl_->server || impl_->server->connections() == 0);
}

std::uint16_t PostalSim::port() const noexcept {
  return impl_->server ? impl_->server->port() : 0;
}
std::size_t PostalSim::orders() const noexcept {
  return impl_->orders.load();
}
std::size_t PostalSim::events_pushed() const noexcept {
  return impl_->pushed.load();
}

}  // namespace dh::postal_sim
