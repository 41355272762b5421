// The postal core simulator end to end over TLS: the hub's HTTPS client places orders, a small
// listener stands in for the hub and receives the status events.
#include "hub/postal_sim/postal_sim.hpp"

#include "hub/connectors/https_client.hpp"
#include "hub/edge/tls.hpp"
#include "hub/postal_sim/orders.hpp"
#include "tests/hub/connectors/tls_support.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <memory>
#include <optional>
#include <random>

using namespace dh;
using namespace std::chrono_literals;
using connectors::HttpResult;
using postal_sim::PostalSim;
namespace asio = boost::asio;
namespace json = boost::json;
namespace http = edge::http;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir() {
  const fs::path dir = fs::temp_directory_path() / ("dh-postal-sim-" + std::to_string(std::random_device{}()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// The hub, as far as the simulator can tell: POST /v1/postal/events with the postal certificate.
struct HubStandIn {
  std::vector<json::object> events;
  std::vector<std::string> pushers;  // subject CN of each push
  int requests = 0;
  int fail_next = 0;  // answer 503 to that many pushes

  std::size_t count(const std::string& event_id) const {
    return static_cast<std::size_t>(std::count_if(
        events.begin(), events.end(), [&](const json::object& e) { return e.at("event_id").as_string() == event_id; }));
  }
  std::vector<std::string> statuses_of(const std::string& order_id) const {
    std::vector<std::string> out;
    for (const auto& e : events)
      if (e.at("order_id").as_string() == order_id) out.emplace_back(e.at("status").as_string());
    return out;
  }
};

asio::awaitable<void> do_request(connectors::HttpsClient& client, std::string method, std::string url,
                                 std::string content_type, std::string body, connectors::Headers headers,
                                 std::optional<HttpResult>* out) {
  *out = co_await client.request(std::move(method), std::move(url), std::move(content_type), std::move(body),
                                 std::move(headers));
}

json::object order(const std::string& id, const std::string& note = "call first") {
  return json::object{{"order_id", id},
                      {"service", "result_delivery"},
                      {"dossier_code", "000.00.12.H29-250115-0001"},
                      {"agency_organ_id", "000.00.12.H29"},
                      {"post_office", "700000"},
                      {"sender", {{"name", "Sở Tư pháp"}, {"address", {{"line", "141 Pasteur"}}}}},
                      {"receiver", {{"name", "Nguyễn Văn A"}, {"phone", "+84901234567"}, {"address", json::object{}}}},
                      {"items", json::array{json::object{{"name", "Phiếu"}, {"quantity", 1}, {"original", true}}}},
                      {"cod_amount", 0},
                      {"note", note}};
}

// Everything of one simulator run on one io_context (the simulator wants one thread: this one).
struct World {
  explicit World(fs::path journal, std::function<void(postal_sim::SimConfig&)> tweak = {})
      : hub_tls(edge::make_server_context(test::dev_tls("hub"))),
        hub_handler([this](const edge::Request& req, const edge::Peer& peer) { return hub_answer(req, peer); }),
        as_hub_tls(edge::make_client_context(test::dev_tls("hub"))),
        as_postal_tls(edge::make_client_context(test::dev_tls("postal"))),
        anonymous_tls(asio::ssl::context::tls_client),
        as_hub(as_hub_tls),
        as_postal(as_postal_tls),
        anonymous(anonymous_tls) {
    anonymous_tls.load_verify_file(test::dev_tls("hub").client_ca.string());
    hub_server.emplace(*io, config::Listener{"127.0.0.1", 0}, &hub_tls, config::Limits{}, hub_handler, "hub");
    hub_server->start();
    postal_sim::SimConfig c;
    c.listen = config::Listener{"127.0.0.1", 0};
    c.tls = test::dev_tls("postal-sim");
    c.client_tls = test::dev_tls("postal");
    c.hub_url = "https://127.0.0.1:" + std::to_string(hub_server->port());
    c.hub_timeout = 2s;
    c.journal = std::move(journal);
    c.retry_interval = 10ms;
    c.faults.step = 10ms;
    c.faults.delivery_failure_rate = 0;
    c.seed = 42;
    if (tweak) tweak(c);
    sim.emplace(*io, c);
    sim->start();
  }
  ~World() {
    // Everything stops and closes, then the io_context runs until no work is left: no coroutine
    // refers to the simulator or the listeners any more when they are destroyed (io last).
    sim->stop();
    hub_server->stop();
    as_hub.close_idle();
    as_postal.close_idle();
    anonymous.close_idle();
    io->restart();
    io->run_for(5s);  // returns as soon as there is no work left
    CHECK(sim->stopped());
  }

  edge::Response hub_answer(const edge::Request& req, const edge::Peer& peer) {
    ++hub.requests;
    if (req.target() != "/v1/postal/events") return edge::text_response(http::status::not_found, "");
    if (hub.fail_next > 0) {
      --hub.fail_next;
      return edge::text_response(http::status::service_unavailable, "down\n");
    }
    hub.pushers.push_back(peer.certificate ? peer.certificate->subject_cn : "");
    const auto body = json::parse(req.body());
    for (const auto& e : body.at("events").as_array()) hub.events.push_back(e.as_object());
    return edge::text_response(http::status::ok, R"({"results":[]})");
  }

  std::string url(const std::string& path) const { return "https://127.0.0.1:" + std::to_string(sim->port()) + path; }

  HttpResult call(connectors::HttpsClient& client, const std::string& method, const std::string& path,
                  const std::string& body = "", connectors::Headers headers = {},
                  const std::string& content_type = "application/json") {
    std::optional<HttpResult> out;
    asio::co_spawn(
        *io, do_request(client, method, url(path), body.empty() ? "" : content_type, body, std::move(headers), &out),
        asio::detached);
    REQUIRE(test::run_until(*io, [&] { return out.has_value(); }));
    return *out;
  }
  HttpResult place(const json::object& o, const std::string& key) {
    connectors::Headers h;
    h.emplace_back("Idempotency-Key", key);
    return call(as_hub, "POST", "/v1/orders", json::serialize(o), std::move(h));
  }
  HttpResult faults(const std::string& knobs) { return call(as_hub, "POST", "/admin/faults", knobs); }
  bool run_until(const std::function<bool()>& done) { return test::run_until(*io, done); }

  std::unique_ptr<asio::io_context> io = std::make_unique<asio::io_context>(1);
  HubStandIn hub;
  asio::ssl::context hub_tls;
  test::FunctionHandler hub_handler;
  std::optional<edge::HttpServer> hub_server;
  asio::ssl::context as_hub_tls;
  asio::ssl::context as_postal_tls;
  asio::ssl::context anonymous_tls;
  connectors::HttpsClient as_hub;
  connectors::HttpsClient as_postal;
  connectors::HttpsClient anonymous;
  std::optional<PostalSim> sim;
};

std::string item_code(const HttpResult& r) {
  const auto v = json::parse(r.body);
  return std::string(v.at("item_code").as_string());
}

}  // namespace

TEST_CASE("postal sim: orders are idempotent, waybills are S10 with a correct check digit", "[postal_sim]") {
  const auto dir = temp_dir();
  {
    World w(dir / "orders.jsonl", [](auto& c) { c.faults.step = 1h; });
    const auto first = w.place(order("O1"), "O1");
    INFO(first.summary() << " " << first.body);
    REQUIRE(first.status == 201);
    const std::string code = item_code(first);
    CHECK(postal_sim::s10_valid(code));
    CHECK(code.substr(0, 2) == "EB");
    CHECK(code.substr(11) == "VN");

    const auto again = w.place(order("O1"), "O1");
    CHECK(again.status == 200);
    CHECK(item_code(again) == code);

    const auto other_body = w.place(order("O1", "another note"), "O1");
    CHECK(other_body.status == 409);
    CHECK(item_code(other_body) == code);

    const auto other_key = w.place(order("O1"), "another-key");
    CHECK(other_key.status == 409);
    CHECK(item_code(other_key) == code);

    const auto second = w.place(order("O2"), "O2");
    REQUIRE(second.status == 201);
    CHECK(item_code(second) != code);
    CHECK(postal_sim::s10_valid(item_code(second)));
    CHECK(w.sim->orders() == 2);

    const auto got = w.call(w.as_hub, "GET", "/v1/orders/O1");
    REQUIRE(got.status == 200);
    const auto v = json::parse(got.body);
    CHECK(v.at("item_code").as_string() == code);
    CHECK(v.at("status") == "ordered");
    CHECK(v.at("order").at("dossier_code") == "000.00.12.H29-250115-0001");
    CHECK(w.call(w.as_hub, "GET", "/v1/orders/nope").status == 404);
  }
  fs::remove_all(dir);
}

TEST_CASE("postal sim: only the hub places orders, and bad orders are refused with reasons", "[postal_sim]") {
  const auto dir = temp_dir();
  {
    World w(dir / "orders.jsonl");
    CHECK(w.call(w.anonymous, "GET", "/healthz").status == 200);
    CHECK(w.call(w.anonymous, "POST", "/v1/orders", json::serialize(order("O1"))).status == 401);
    connectors::Headers h;
    h.emplace_back("Idempotency-Key", "O1");
    CHECK(w.call(w.as_postal, "POST", "/v1/orders", json::serialize(order("O1")), h).status == 403);
    CHECK(w.call(w.as_postal, "GET", "/v1/orders/O1").status == 403);

    auto bad = order("O1");
    bad["service"] = "parcel";
    bad.erase("cod_amount");
    const auto refused = w.place(bad, "O1");
    CHECK(refused.status == 422);
    CHECK(refused.content_type == "application/problem+json");
    const auto errors = json::parse(refused.body).at("errors").as_array();
    REQUIRE(errors.size() == 2);
    CHECK(errors[0].at("path") == "/service");
    CHECK(errors[1].at("path") == "/cod_amount");
    CHECK(w.call(w.as_hub, "POST", "/v1/orders", "{not json").status == 400);
    CHECK(w.call(w.as_hub, "POST", "/v1/orders", "x", {}, "text/plain").status == 415);
    CHECK(w.call(w.as_hub, "PUT", "/v1/orders", "{}").status == 405);
    CHECK(w.call(w.as_hub, "GET", "/v2/other").status == 404);
    CHECK(w.sim->orders() == 0);  // nothing refused was kept
  }
  fs::remove_all(dir);
}

TEST_CASE("postal sim: status events reach the hub in order, with the postal certificate", "[postal_sim]") {
  const auto dir = temp_dir();
  {
    World w(dir / "orders.jsonl");
    const auto placed = w.place(order("O1"), "O1");
    REQUIRE(placed.status == 201);
    const std::string code = item_code(placed);
    REQUIRE(w.run_until([&] { return w.hub.events.size() == 4; }));
    CHECK(w.hub.statuses_of("O1") ==
          std::vector<std::string>{"picked_up", "in_transit", "out_for_delivery", "delivered"});
    for (std::size_t i = 0; i < 4; ++i) {
      const auto& e = w.hub.events[i];
      CHECK(e.at("event_id").as_string() == code + "-" + std::to_string(i + 1));
      CHECK(e.at("order_id") == "O1");
      CHECK(e.at("item_code").as_string() == code);
      CHECK(Timestamp::parse_rfc3339(e.at("occurred_at").as_string()));
      CHECK_FALSE(e.contains("reason"));
    }
    for (const auto& cn : w.hub.pushers) CHECK(cn == "postal");
    // The hub acknowledged them all: the order says so.
    REQUIRE(w.run_until([&] { return w.sim->events_pushed() == 4; }));
    CHECK(json::parse(w.call(w.as_hub, "GET", "/v1/orders/O1").body).at("status") == "delivered");
  }
  fs::remove_all(dir);
}

TEST_CASE("postal sim: while the hub is down the events wait, then arrive", "[postal_sim]") {
  const auto dir = temp_dir();
  {
    World w(dir / "orders.jsonl");
    w.hub.fail_next = 3;
    REQUIRE(w.place(order("O1"), "O1").status == 201);
    REQUIRE(w.run_until([&] { return w.hub.events.size() == 4; }));
    CHECK(w.hub.requests >= 4);
    CHECK(w.hub.statuses_of("O1") ==
          std::vector<std::string>{"picked_up", "in_transit", "out_for_delivery", "delivered"});
  }
  fs::remove_all(dir);
}

TEST_CASE("postal sim: fault knobs at run time", "[postal_sim]") {
  const auto dir = temp_dir();
  {
    World w(dir / "orders.jsonl");
    auto set = w.faults(R"({"error_rate":1})");
    REQUIRE(set.status == 200);
    CHECK(json::parse(set.body).at("error_rate") == 1.0);
    auto failed = w.place(order("O1"), "O1");
    CHECK(failed.status == 503);
    CHECK(failed.retry_after == "1");

    REQUIRE(w.faults(R"({"error_rate":0,"down_for":"30s"})").status == 200);
    failed = w.place(order("O1"), "O1");
    CHECK(failed.status == 503);
    CHECK(std::stoi(failed.retry_after) >= 29);
    CHECK(w.call(w.as_hub, "GET", "/healthz").status == 200);  // the listener is still there

    CHECK(w.faults(R"({"down_for":"later"})").status == 422);
    CHECK(w.faults("[]").status == 422);
    CHECK(w.call(w.as_postal, "GET", "/admin/faults").status == 200);  // any trusted certificate

    REQUIRE(w.faults(R"({"down_for":"0s","latency":"150ms"})").status == 200);
    const auto start = std::chrono::steady_clock::now();
    const auto placed = w.place(order("O1"), "O1");
    CHECK(placed.status == 201);
    CHECK(std::chrono::steady_clock::now() - start >= 150ms);
    CHECK(w.sim->orders() == 1);
  }
  fs::remove_all(dir);
}

TEST_CASE("postal sim: duplicated and reordered events", "[postal_sim]") {
  const auto dir = temp_dir();
  {
    World w(dir / "orders.jsonl");
    REQUIRE(w.faults(R"({"duplicate_events":1,"reorder_events":1})").status == 200);
    const auto placed = w.place(order("O1"), "O1");
    REQUIRE(placed.status == 201);
    const std::string code = item_code(placed);
    REQUIRE(w.run_until([&] { return w.hub.events.size() == 8; }));
    for (int i = 1; i <= 4; ++i) CHECK(w.hub.count(code + "-" + std::to_string(i)) == 2);
    // Two neighbouring events were swapped: the first sendings are not in status order.
    std::vector<std::string> first_seen;
    for (const auto& e : w.hub.events) {
      const std::string id(e.at("event_id").as_string());
      if (std::find(first_seen.begin(), first_seen.end(), id) == first_seen.end()) first_seen.push_back(id);
    }
    REQUIRE(first_seen.size() == 4);
    CHECK_FALSE(std::is_sorted(first_seen.begin(), first_seen.end()));
  }
  fs::remove_all(dir);
}

TEST_CASE("postal sim: records the agency callbacks the hub sends it (demos and end-to-end tests)", "[postal_sim]") {
  const auto dir = temp_dir();
  {
    World w(dir / "orders.jsonl");
    connectors::Headers h;
    h.emplace_back("Idempotency-Key", "CB1");
    CHECK(w.call(w.as_hub, "POST", "/agency-callbacks/hcm-justice", "<status>delivered</status>", h, "application/xml")
              .status == 200);
    const auto again =
        w.call(w.as_hub, "POST", "/agency-callbacks/hcm-justice", "<status>delivered</status>", h, "application/xml");
    CHECK(json::parse(again.body).at("duplicate") == true);
    CHECK(w.call(w.as_hub, "POST", "/agency-callbacks/hcm-transport", "{}").status == 200);
    CHECK(w.call(w.as_postal, "POST", "/agency-callbacks/hcm-justice", "{}").status == 403);
    const auto all = json::parse(w.call(w.as_postal, "GET", "/agency-callbacks").body);
    CHECK(all.at("count") == 3);
    const auto justice = json::parse(w.call(w.as_hub, "GET", "/agency-callbacks?agency=hcm-justice").body);
    REQUIRE(justice.at("count") == 2);
    const auto& first = justice.at("callbacks").as_array()[0];
    CHECK(first.at("body") == "<status>delivered</status>");
    CHECK(first.at("content_type") == "application/xml");
    CHECK(first.at("idempotency_key") == "CB1");
    CHECK(first.at("duplicate") == false);
  }
  fs::remove_all(dir);
}

TEST_CASE("postal sim: a restarted simulator still knows its orders and waybills", "[postal_sim]") {
  const auto dir = temp_dir();
  std::string code;
  {
    World w(dir / "orders.jsonl", [](auto& c) { c.faults.step = 1h; });
    const auto placed = w.place(order("O1"), "O1");
    REQUIRE(placed.status == 201);
    code = item_code(placed);
  }
  {
    World w(dir / "orders.jsonl", [](auto& c) { c.faults.step = 1h; });
    CHECK(w.sim->orders() == 1);
    const auto again = w.place(order("O1"), "O1");
    CHECK(again.status == 200);
    CHECK(item_code(again) == code);
    const auto second = w.place(order("O2"), "O2");
    REQUIRE(second.status == 201);
    CHECK(item_code(second) != code);
    CHECK(item_code(second) == postal_sim::make_item_code(2));
  }
  fs::remove_all(dir);
}
