#include "hub/connectors/outcome.hpp"

#include <catch2/catch.hpp>

#include <chrono>

using namespace dh::connectors;
using namespace std::chrono_literals;

namespace {

const auto kNow = std::chrono::sys_days{std::chrono::year{2025} / 1 / 15} + 8h;

HttpResult answer(unsigned status, std::string body = "", std::string retry_after = "") {
  HttpResult r;
  r.status = status;
  r.body = std::move(body);
  r.retry_after = std::move(retry_after);
  return r;
}

HttpResult network(NetworkError e) {
  HttpResult r;
  r.error = e;
  r.error_detail = "detail";
  return r;
}

}  // namespace

TEST_CASE("postal intake: the contract's answers, one by one", "[outcome]") {
  struct Row {
    HttpResult result;
    Outcome outcome;
    bool has_item_code;
  };
  const std::string code = R"({"item_code":"EB123456785VN"})";
  const Row rows[] = {
      {answer(201, code), Outcome::delivered, true},
      {answer(200, code), Outcome::delivered, true},
      {answer(409, code), Outcome::delivered, true},
      {answer(201, "{}"), Outcome::reject, false},
      {answer(201, R"({"item_code":"123"})"), Outcome::reject, false},
      {answer(201, R"({"item_code":12345})"), Outcome::reject, false},
      {answer(201, "not json"), Outcome::reject, false},
      {answer(201, R"(["EB123456785VN"])"), Outcome::reject, false},
      {answer(200, ""), Outcome::reject, false},
      {answer(202, code), Outcome::reject, false},
      {answer(204), Outcome::reject, false},
      {answer(409, "{}"), Outcome::reject, false},
      {answer(408), Outcome::retry, false},
      {answer(429), Outcome::retry, false},
      {answer(500), Outcome::retry, false},
      {answer(502), Outcome::retry, false},
      {answer(503), Outcome::retry, false},
      {answer(504), Outcome::retry, false},
      {answer(599), Outcome::retry, false},
      {answer(400), Outcome::reject, false},
      {answer(401), Outcome::reject, false},
      {answer(403), Outcome::reject, false},
      {answer(404), Outcome::reject, false},
      {answer(413), Outcome::reject, false},
      {answer(422), Outcome::reject, false},
      {answer(301), Outcome::reject, false},
      {answer(100), Outcome::retry, false},
      {network(NetworkError::timeout), Outcome::retry, false},
      {network(NetworkError::refused), Outcome::retry, false},
      {network(NetworkError::reset), Outcome::retry, false},
      {network(NetworkError::tls), Outcome::retry, false},
      {network(NetworkError::resolve), Outcome::retry, false},
      {network(NetworkError::protocol), Outcome::retry, false},
      {network(NetworkError::too_large), Outcome::retry, false},
      {network(NetworkError::bad_url), Outcome::reject, false},
  };
  for (const auto& row : rows) {
    INFO(row.result.summary() << " " << row.result.body);
    const auto c = classify_postal_intake(row.result, kNow);
    CHECK(c.outcome == row.outcome);
    CHECK(c.item_code.has_value() == row.has_item_code);
    if (c.item_code) CHECK(*c.item_code == "EB123456785VN");
    CHECK_FALSE(c.reason.empty());
  }
}

TEST_CASE("postal intake: 409 is a duplicate, and the reasons say why without the body", "[outcome]") {
  const auto dup = classify_postal_intake(answer(409, R"({"item_code":"EB123456785VN","name":"Nguyễn Văn A"})"), kNow);
  CHECK(dup.duplicate);
  CHECK(dup.reason == "409 duplicate");
  const auto bad = classify_postal_intake(answer(201, R"({"name":"Nguyễn Văn A"})"), kNow);
  CHECK(bad.reason.find("without a valid item_code") != std::string::npos);
  CHECK(bad.reason.find("Nguy") == std::string::npos);
  const auto net = classify_postal_intake(network(NetworkError::timeout), kNow);
  CHECK(net.reason == "timeout: detail");
}

TEST_CASE("agency callbacks: 2xx delivered, 408/429/5xx/network retry, other 4xx reject", "[outcome]") {
  struct Row {
    HttpResult result;
    Outcome outcome;
  };
  const Row rows[] = {
      {answer(200), Outcome::delivered},
      {answer(201), Outcome::delivered},
      {answer(202), Outcome::delivered},
      {answer(204), Outcome::delivered},
      {answer(408), Outcome::retry},
      {answer(429), Outcome::retry},
      {answer(500), Outcome::retry},
      {answer(503), Outcome::retry},
      {answer(400), Outcome::reject},
      {answer(404), Outcome::reject},
      {answer(409), Outcome::reject},
      {answer(422), Outcome::reject},
      {network(NetworkError::refused), Outcome::retry},
      {network(NetworkError::tls), Outcome::retry},
      {network(NetworkError::bad_url), Outcome::reject},
  };
  for (const auto& row : rows) {
    INFO(row.result.summary());
    const auto c = classify_agency_callback(row.result, kNow);
    CHECK(c.outcome == row.outcome);
    CHECK_FALSE(c.item_code);
  }
}

TEST_CASE("Retry-After on 429 and 503 is a minimum delay, and ignored elsewhere", "[outcome]") {
  CHECK(classify_postal_intake(answer(429, "", "30"), kNow).min_delay == 30s);
  CHECK(classify_agency_callback(answer(503, "", "7"), kNow).min_delay == 7s);
  CHECK(classify_postal_intake(answer(500, "", "30"), kNow).min_delay == 0ms);
  CHECK(classify_postal_intake(answer(408, "", "30"), kNow).min_delay == 0ms);
  CHECK(classify_postal_intake(answer(503, "", "soon"), kNow).min_delay == 0ms);
  CHECK(classify_postal_intake(answer(503), kNow).min_delay == 0ms);
}

TEST_CASE("Retry-After: delay-seconds and IMF-fixdate", "[outcome]") {
  CHECK(parse_retry_after("120", kNow) == 120s);
  CHECK(parse_retry_after(" 0 ", kNow) == 0s);
  CHECK(parse_retry_after("Wed, 15 Jan 2025 08:01:30 GMT", kNow) == 90s);
  CHECK(parse_retry_after("Wed, 15 Jan 2025 07:00:00 GMT", kNow) == 0s);  // in the past
  CHECK(parse_retry_after("99999999999999999999999", kNow).value() > 24h);
  CHECK_FALSE(parse_retry_after("", kNow));
  CHECK_FALSE(parse_retry_after("-5", kNow));
  CHECK_FALSE(parse_retry_after("5s", kNow));
  CHECK_FALSE(parse_retry_after("Wed, 15 Jan 2025 08:01:30 UTC", kNow));
  CHECK_FALSE(parse_retry_after("Wed, 31 Feb 2025 08:01:30 GMT", kNow));
  CHECK_FALSE(parse_retry_after("Wednesday, 15-Jan-25 08:01:30 GMT", kNow));
}

TEST_CASE("item codes have the S10 shape", "[outcome]") {
  CHECK(is_item_code("EB123456785VN"));
  CHECK(is_item_code("EB123456789VN"));  // the contract's example: shape only, check digit not verified
  CHECK_FALSE(is_item_code("eb123456785VN"));
  CHECK_FALSE(is_item_code("EB12345678VN"));
  CHECK_FALSE(is_item_code("EB1234567850VN"));
  CHECK_FALSE(is_item_code("EB12345678XVN"));
  CHECK_FALSE(is_item_code("E1123456785VN"));
  CHECK_FALSE(is_item_code(""));
  CHECK(item_code_of(R"({"item_code":"EB123456785VN","extra":1})") == "EB123456785VN");
  CHECK_FALSE(item_code_of(R"({"item_code":null})"));
}

TEST_CASE("postal replies on AMQP are classified by the same rules as HTTP answers", "[outcome]") {
  // Every status of the contract, with and without an item code: a reply {"status", "item_code"}
  // means exactly what the HTTP answer with that status and body means.
  const unsigned statuses[] = {100, 200, 201, 202, 204, 301, 400, 401, 404, 408, 409, 422, 429, 500, 502, 503, 599};
  const char* codes[] = {"EB123456785VN", "123", nullptr};
  for (const unsigned status : statuses) {
    for (const char* code : codes) {
      const std::string body =
          code ? R"({"item_code":")" + std::string(code) + R"(","title":"t"})" : std::string(R"({"title":"t"})");
      const std::string reply = R"({"status":)" + std::to_string(status) + "," + body.substr(1);
      INFO(reply);
      const auto parsed = parse_postal_reply(reply);
      REQUIRE(parsed.has_value());
      CHECK(parsed->status == status);
      const auto by_reply = classify_postal_reply(*parsed);
      const auto by_http = classify_postal_intake(answer(status, body), kNow);
      CHECK(by_reply.outcome == by_http.outcome);
      CHECK(by_reply.item_code == by_http.item_code);
      CHECK(by_reply.duplicate == by_http.duplicate);
      CHECK(by_reply.reason.substr(0, 6) == "reply ");
      CHECK(by_reply.reason.substr(6) == by_http.reason);
    }
  }
  const auto dup = classify_postal_reply(*parse_postal_reply(R"({"status":409,"item_code":"EB123456785VN"})"));
  CHECK(dup.outcome == Outcome::delivered);
  CHECK(dup.duplicate);
  CHECK(dup.reason == "reply 409 duplicate");
  const auto unavailable = classify_postal_reply(*parse_postal_reply(R"({"status":503,"detail":"down"})"));
  CHECK(unavailable.outcome == Outcome::retry);
  CHECK(unavailable.min_delay == 0ms);
}

TEST_CASE("an unreadable postal reply says why but never quotes it", "[outcome]") {
  struct Row {
    const char* body;
    const char* says;
  };
  for (const Row& row : {
           Row{"not json", "the reply is not JSON"},
           Row{R"(["Nguyễn Văn A"])", "the reply is not a JSON object"},
           Row{R"({"item_code":"EB123456785VN"})", "the reply has no status"},
           Row{R"({"status":"201"})", "the reply's status is not a whole number from 100 to 599"},
           Row{R"({"status":201.5})", "the reply's status is not a whole number from 100 to 599"},
           Row{R"({"status":99})", "the reply's status is not a whole number from 100 to 599"},
           Row{R"({"status":600})", "the reply's status is not a whole number from 100 to 599"},
           Row{R"({"status":-201})", "the reply's status is not a whole number from 100 to 599"},
           Row{R"({"status":18446744073709551615})", "the reply's status is not a whole number from 100 to 599"},
       }) {
    INFO(row.body);
    const auto r = parse_postal_reply(row.body);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message == row.says);
  }
}
