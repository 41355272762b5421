#include "hub/postal_sim/orders.hpp"

#include "hub/postal_sim/sim_config.hpp"
#include "tests/hub/connectors/tls_support.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <fstream>
#include <random>

using namespace dh;
using namespace dh::postal_sim;
using namespace std::chrono_literals;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

json::value valid_order() {
  return json::parse(R"({
    "order_id": "01JH0000000000000000000000",
    "service": "result_delivery",
    "dossier_code": "000.00.12.H29-250115-0001",
    "agency_organ_id": "000.00.12.H29",
    "post_office": "700000",
    "sender": {"name": "Sở Tư pháp", "address": {"line": "141 Pasteur", "ward_code": "26740"}},
    "receiver": {"name": "Nguyễn Văn A", "phone": "+84901234567", "address": {"line": "1 Lê Lợi"}},
    "items": [{"name": "Phiếu lý lịch tư pháp", "quantity": 1, "original": true}],
    "cod_amount": 0,
    "due_at": "2025-01-20T17:00:00+07:00",
    "note": "gọi trước"
  })");
}

std::vector<std::string> paths(const FieldErrors& e) {
  std::vector<std::string> out;
  for (const auto& x : e.errors) out.push_back(x.path);
  return out;
}

fs::path temp_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("dh-" + name + "-" + std::to_string(std::random_device{}()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

Timestamp t0() {
  return *Timestamp::parse_rfc3339("2025-01-15T08:00:00+07:00");
}

// A valid order with the next waybill of `book` and a plan of four events, one a second.
Order new_order(const OrderBook& book, const std::string& order_id, const std::string& key) {
  Order o;
  o.order_id = order_id;
  o.idempotency_key = key;
  o.item_code = make_item_code(book.next_serial());
  o.sha256 = "abc";
  o.received_at = t0();
  o.request = valid_order().as_object();
  o.plan = plan_events(t0(), 1s, 0.0, 0.0, [] { return 0.5; });
  return o;
}

}  // namespace

TEST_CASE("S10 check digits: weights 8 6 4 2 3 5 9 7, 10 -> 0, 11 -> 5", "[s10]") {
  CHECK(s10_check_digit("47312482") == 9);  // the UPU S10 example
  CHECK(s10_check_digit("12345678") == 5);
  CHECK(s10_check_digit("00000001") == 4);
  CHECK(s10_check_digit("00000008") == 0);  // 11 - 1 = 10 -> 0
  CHECK(s10_check_digit("00000015") == 5);  // 11 - 0 = 11 -> 5
  CHECK(s10_check_digit("00000000") == 5);
  CHECK(s10_check_digit("1234567") == -1);
  CHECK(s10_check_digit("1234567a") == -1);
  CHECK(make_item_code(1) == "EB000000014VN");
  CHECK(make_item_code(47312482) == "EB473124829VN");
  CHECK(make_item_code(99999999).size() == 13);
  CHECK(s10_valid("EB473124829VN"));
  CHECK_FALSE(s10_valid("EB473124828VN"));
  CHECK_FALSE(s10_valid("EB123456789VN"));  // the contract's example has the shape, not the check digit
  CHECK_FALSE(s10_valid("Eb473124829VN"));
  for (std::uint32_t serial = 1; serial < 2000; ++serial) REQUIRE(s10_valid(make_item_code(serial)));
}

TEST_CASE("intake orders: a valid order passes, as the hub renders it", "[orders]") {
  CHECK(validate_order(valid_order()).empty());
  auto minimal = valid_order();
  auto& o = minimal.as_object();
  o.erase("due_at");
  o.erase("note");
  o["items"] = json::array{};
  o["sender"].as_object().erase("phone");
  o["sender"].as_object()["address"] = json::object{};
  o["extra"] = "ignored";
  CHECK(validate_order(minimal).empty());
}

TEST_CASE("intake orders: every failing field is named, values never quoted", "[orders]") {
  CHECK(paths(validate_order(json::parse("[]"))) == std::vector<std::string>{""});
  CHECK(paths(validate_order(json::parse("{}"))) ==
        std::vector<std::string>{"/order_id", "/service", "/dossier_code", "/agency_organ_id", "/post_office",
                                 "/sender", "/receiver", "/items", "/cod_amount"});
  auto bad = valid_order();
  auto& o = bad.as_object();
  o["service"] = "parcel";
  o["order_id"] = "";
  o["receiver"].as_object()["phone"] = "0901234567";
  o["receiver"].as_object()["name"] = 7;
  o["sender"].as_object().erase("address");
  o["items"].as_array()[0].as_object()["quantity"] = 0;
  o["items"].as_array().push_back(json::object{{"name", "x"}, {"quantity", 1}, {"original", "yes"}});
  o["items"].as_array().push_back(42);
  o["cod_amount"] = -1;
  o["due_at"] = "20/01/2025";
  const auto errors = validate_order(bad);
  CHECK(paths(errors) == std::vector<std::string>{"/order_id", "/service", "/sender/address", "/receiver/name",
                                                  "/receiver/phone", "/items/0/quantity", "/items/1/original",
                                                  "/items/2", "/cod_amount", "/due_at"});
  for (const auto& e : errors.errors) {
    CHECK(e.reason.find("0901234567") == std::string::npos);
    CHECK(e.reason.find("parcel") == std::string::npos);
  }
}

TEST_CASE("events: the happy path, delivery failures, and a reordered pair", "[orders]") {
  auto statuses = [](const std::vector<PlannedEvent>& plan) {
    std::vector<std::string> s;
    for (const auto& e : plan) s.push_back(e.status);
    return s;
  };
  const auto happy = plan_events(t0(), 2s, 0.0, 0.0, [] { return 0.5; });
  CHECK(statuses(happy) == std::vector<std::string>{"picked_up", "in_transit", "out_for_delivery", "delivered"});
  CHECK(happy[0].at.to_rfc3339() == "2025-01-15T08:00:02+07:00");
  CHECK(happy[3].at.to_rfc3339() == "2025-01-15T08:00:08+07:00");
  CHECK(happy[3].send_after == 8s);
  CHECK_FALSE(happy[0].reason);

  const auto failing = plan_events(t0(), 1s, 1.0, 0.0, [] { return 0.5; });
  CHECK(statuses(failing) == std::vector<std::string>{"picked_up", "in_transit", "out_for_delivery", "delivery_failed",
                                                      "out_for_delivery", "delivery_failed", "out_for_delivery",
                                                      "delivered"});
  CHECK(failing[3].reason == "recipient_absent");

  // random() = 0: first pair swapped. The later status is sent first; occurrence times stay.
  const auto reordered = plan_events(t0(), 1s, 0.0, 1.0, [] { return 0.0; });
  CHECK(reordered[0].send_after == 2s);
  CHECK(reordered[1].send_after == 1s);
  CHECK(reordered[0].at.to_rfc3339() == "2025-01-15T08:00:01+07:00");
}

TEST_CASE("order book: journalled, read back after a restart, torn lines skipped", "[orders]") {
  const auto dir = temp_dir("journal");
  const auto file = dir / "sub" / "orders.jsonl";
  {
    OrderBook book(file);
    CHECK(book.size() == 0);
    CHECK(book.next_serial() == 1);
    REQUIRE(book.add(new_order(book, "O1", "K1")).has_value());
    REQUIRE(book.ack("O1", 0).has_value());
    REQUIRE(book.ack("O1", 1).has_value());
    CHECK_FALSE(book.ack("O1", 99).has_value());
    CHECK_FALSE(book.ack("nope", 0).has_value());
    CHECK(book.by_key("K1")->status() == "in_transit");
  }
  {
    std::ifstream in(file);
    std::string first;
    std::getline(in, first);
    const auto line = json::parse(first);
    CHECK(line.at("type") == "order");
    CHECK(line.at("dossier_code") == "000.00.12.H29-250115-0001");  // at the top, for tools
  }
  {
    std::ofstream(file, std::ios::app) << R"({"type":"order","order_id":"O2","ke)";  // a crash mid-write
  }
  OrderBook again(file);
  CHECK(again.size() == 1);
  CHECK(again.skipped_lines() == 1);
  const Order* o = again.by_key("K1");
  REQUIRE(o);
  CHECK(o == again.by_order_id("O1"));
  CHECK(o->item_code == "EB000000014VN");
  CHECK(o->sha256 == "abc");
  CHECK(o->received_at == t0());
  CHECK(o->plan.size() == 4);
  CHECK(o->plan[1].acked);
  CHECK_FALSE(o->plan[2].acked);
  CHECK(o->plan[3].at.to_rfc3339() == "2025-01-15T08:00:04+07:00");
  CHECK(o->request.at("dossier_code") == "000.00.12.H29-250115-0001");
  CHECK(again.next_serial() == 2);
  CHECK(o->event_id(0) == "EB000000014VN-1");
  fs::remove_all(dir);
}

TEST_CASE("order book: one push's acknowledgements are journalled together", "[orders]") {
  const auto dir = temp_dir("journal-acks");
  const auto file = dir / "orders.jsonl";
  {
    OrderBook book(file);
    for (const std::string id : {"O1", "O2"}) REQUIRE(book.add(new_order(book, id, "K" + id)).has_value());
    REQUIRE(book.ack("O1", 0).has_value());
    // An event acknowledged before, and one listed twice: each journalled once.
    REQUIRE(book.ack_all({{"O1", 0}, {"O1", 1}, {"O2", 0}, {"O2", 0}}).has_value());
    CHECK(book.by_order_id("O1")->status() == "in_transit");
    CHECK(book.by_order_id("O2")->status() == "picked_up");
    // An unknown event refuses the whole push: nothing of it is journalled or marked.
    CHECK_FALSE(book.ack_all({{"O2", 1}, {"nope", 0}}).has_value());
    CHECK(book.by_order_id("O2")->status() == "picked_up");
  }
  std::ifstream in(file);
  int acked_lines = 0;
  for (std::string line; std::getline(in, line);) acked_lines += line.find(R"("type":"acked")") != std::string::npos;
  CHECK(acked_lines == 3);
  OrderBook again(file);
  CHECK(again.skipped_lines() == 0);
  CHECK(again.by_order_id("O1")->plan[1].acked);
  CHECK(again.by_order_id("O2")->plan[0].acked);
  CHECK_FALSE(again.by_order_id("O2")->plan[1].acked);
  fs::remove_all(dir);
}

TEST_CASE("fault knobs: applied all together or not at all", "[faults]") {
  const auto now = std::chrono::system_clock::now();
  Faults f;
  auto applied = apply_faults(f, json::parse(R"({"error_rate":0.5,"latency":"250ms","down_for":"10s",
      "duplicate_events":1,"reorder_events":0,"step":"50ms","delivery_failure_rate":0})"),
                              now);
  REQUIRE(applied.has_value());
  CHECK(applied->error_rate == 0.5);
  CHECK(applied->latency == 250ms);
  CHECK(applied->down_until == now + 10s);
  CHECK(applied->duplicate_events == 1);
  CHECK(applied->step == 50ms);
  CHECK(applied->delivery_failure_rate == 0);
  const auto j = faults_json(*applied, now);
  CHECK(j.at("down_for") == "10000ms");
  CHECK(j.at("latency") == "250ms");

  auto refused = apply_faults(f, json::parse(R"({"error_rate":2,"latency":"soon","step":"0s","chaos":1})"), now);
  REQUIRE_FALSE(refused.has_value());
  CHECK(paths(refused.error()) == std::vector<std::string>{"/error_rate", "/latency", "/step", "/chaos"});
  CHECK_FALSE(apply_faults(f, json::parse("[1]"), now).has_value());
}

TEST_CASE("the sample configuration loads, relative paths from its folder", "[config]") {
  test::dev_certs();
  const auto c = SimConfig::load(fs::path(DH_SOURCE_DIR) / "samples" / "postal-sim.yaml");
  CHECK(c.listen.address == "127.0.0.1");
  CHECK(c.listen.port == 9443);
  CHECK(c.hub_url == "https://127.0.0.1:8443");
  CHECK(c.tls.certificate.filename() == "postal-sim.crt");
  CHECK(c.client_tls.certificate.filename() == "postal.crt");
  CHECK(c.tls.client_ca.filename() == "ca.crt");
  CHECK(c.orders_cn == "hub");
  CHECK(fs::exists(c.tls.certificate));
}

TEST_CASE("configuration errors name the file, line and column", "[config]") {
  test::dev_certs();
  const auto dir = temp_dir("simcfg");
  const auto certs = fs::path(DH_SOURCE_DIR) / "certs" / "dev";
  auto write = [&](const std::string& extra) {
    std::ofstream(dir / "sim.yaml") << "postal_sim: postal-sim/config/v1\n"
                                    << "tls: {certificate: " << (certs / "postal-sim.crt").string()
                                    << ", private_key: " << (certs / "postal-sim.key").string()
                                    << ", ca: " << (certs / "ca.crt").string() << "}\n"
                                    << "client_tls: {certificate: " << (certs / "postal.crt").string()
                                    << ", private_key: " << (certs / "postal.key").string()
                                    << ", ca: " << (certs / "ca.crt").string() << "}\n"
                                    << extra;
  };
  write("");
  CHECK(SimConfig::load(dir / "sim.yaml").journal == dir / "postal-sim-orders.jsonl");
  write("faults:\n  error_rate: 3\n");
  CHECK_THROWS_WITH(SimConfig::load(dir / "sim.yaml"),
                    Catch::Contains("sim.yaml:5:15") && Catch::Contains("from 0 to 1"));
  write("chaos: yes\n");
  CHECK_THROWS_WITH(SimConfig::load(dir / "sim.yaml"), Catch::Contains("sim.yaml:4:1: unknown key 'chaos'"));
  write("hub: {url: http://127.0.0.1:8443}\n");
  CHECK_THROWS_WITH(SimConfig::load(dir / "sim.yaml"), Catch::Contains("must be https://"));
  fs::remove_all(dir);
}
