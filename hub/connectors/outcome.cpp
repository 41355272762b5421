#include "hub/connectors/outcome.hpp"

#include "hub/common/time.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <array>
#include <charconv>

namespace dh::connectors {

std::string_view to_string(Outcome o) noexcept {
  switch (o) {
    case Outcome::delivered:
      return "delivered";
    case Outcome::retry:
      return "retry";
    case Outcome::reject:
      return "reject";
  }
  return "retry";
}

namespace {

bool upper(char c) {
  return c >= 'A' && c <= 'Z';
}
bool digit(char c) {
  return c >= '0' && c <= '9';
}

std::optional<int> number(std::string_view s) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
std::optional<std::chrono::system_clock::time_point> imf_fixdate(std::string_view s) {
  if (s.size() != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[19] != ':' ||
      s[22] != ':' || s.substr(25) != " GMT")
    return std::nullopt;
  static constexpr std::array<std::string_view, 12> kMonths{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int month = 0;
  for (std::size_t i = 0; i < kMonths.size(); ++i)
    if (s.substr(8, 3) == kMonths[i]) month = static_cast<int>(i) + 1;
  const auto day = number(s.substr(5, 2));
  const auto year = number(s.substr(12, 4));
  const auto hour = number(s.substr(17, 2));
  const auto minute = number(s.substr(20, 2));
  const auto second = number(s.substr(23, 2));
  if (month == 0 || !day || !year || !hour || !minute || !second) return std::nullopt;
  const auto t = Timestamp::from_civil(*year, month, *day, *hour, *minute, *second, 0, 0);
  if (!t) return std::nullopt;
  return std::chrono::system_clock::time_point(t->utc);
}

// What every connector agrees on for a status code: 408/429/5xx, other 4xx, redirects, 2xx.
// `retry_after` counts on 429 and 503 only.
Classification classify_status(unsigned s, std::chrono::milliseconds retry_after, std::string reason) {
  Classification c;
  c.reason = std::move(reason);
  if (s == 408 || s == 429 || (s >= 500 && s <= 599)) {
    c.outcome = Outcome::retry;
    if (s == 429 || s == 503) c.min_delay = retry_after;
  } else if (s >= 400 && s <= 499) {
    c.outcome = Outcome::reject;
  } else if (s >= 300 && s <= 399) {
    c.outcome = Outcome::reject;
    c.reason += " (redirects are not followed: the configured URL is wrong)";
  } else if (s >= 200 && s <= 299) {
    c.outcome = Outcome::delivered;
  } else {
    c.outcome = Outcome::retry;  // 1xx as a final answer, or no HTTP status at all
    c.reason += " (not a final HTTP status)";
  }
  return c;
}

std::chrono::milliseconds retry_after_of(const HttpResult& r, std::chrono::system_clock::time_point now) {
  return parse_retry_after(r.retry_after, now).value_or(std::chrono::milliseconds(0));
}

// What every connector agrees on: the network, then the status code.
Classification common(const HttpResult& r, std::chrono::system_clock::time_point now) {
  if (!r.answered()) {
    Classification c;
    c.reason = r.summary();
    // A URL that is not https:// never becomes one: retrying would only delay the dead letter.
    c.outcome = *r.error == NetworkError::bad_url ? Outcome::reject : Outcome::retry;
    return c;
  }
  return classify_status(r.status, retry_after_of(r, now), r.summary());
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view v,
                                                           std::chrono::system_clock::time_point now) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  if (v.empty()) return std::nullopt;
  if (digit(v.front())) {
    long long seconds = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
    if (ec == std::errc::result_out_of_range) return std::chrono::hours(24 * 365);  // absurd: "a long time"
    if (ec != std::errc() || p != v.data() + v.size()) return std::nullopt;
    return std::chrono::seconds(std::min(seconds, 365LL * 24 * 3600));
  }
  const auto at = imf_fixdate(v);
  if (!at) return std::nullopt;
  if (*at <= now) return std::chrono::milliseconds(0);
  return std::chrono::duration_cast<std::chrono::milliseconds>(*at - now);
}

bool is_item_code(std::string_view s) noexcept {
  if (s.size() != 13) return false;
  for (std::size_t i = 0; i < 13; ++i) {
    const bool ok = (i < 2 || i >= 11) ? upper(s[i]) : digit(s[i]);
    if (!ok) return false;
  }
  return true;
}

std::optional<std::string> item_code_of(std::string_view body) {
  boost::system::error_code ec;
  boost::json::parse_options opt;
  opt.max_depth = 8;
  const auto v = boost::json::parse(body, ec, {}, opt);
  if (ec || !v.is_object()) return std::nullopt;
  const auto* code = v.as_object().if_contains("item_code");
  if (!code || !code->is_string() || !is_item_code(code->get_string())) return std::nullopt;
  return std::string(code->get_string());
}

Classification classify_postal_answer(unsigned status, std::optional<std::string> item_code,
                                      std::chrono::milliseconds retry_after, std::string reason) {
  Classification c = classify_status(status, retry_after, std::move(reason));
  const bool created = status == 200 || status == 201;
  if (created || status == 409) {
    c.item_code = std::move(item_code);
    if (c.item_code) {
      c.outcome = Outcome::delivered;
      c.duplicate = status == 409;
      if (c.duplicate) c.reason += " duplicate";
    } else {
      c.outcome = Outcome::reject;
      c.reason += " without a valid item_code (expected a JSON object with an S10 item code, e.g. EB123456785VN)";
    }
  } else if (c.outcome == Outcome::delivered) {
    // 202, 204, ...: the postal core did not say which waybill it made, and asking again would not.
    c.outcome = Outcome::reject;
    c.reason += " without a valid item_code (the contract answers 201 or 200 with one)";
  }
  return c;
}

Classification classify_postal_intake(const HttpResult& r, std::chrono::system_clock::time_point now) {
  if (!r.answered()) return common(r, now);
  return classify_postal_answer(r.status, item_code_of(r.body), retry_after_of(r, now), r.summary());
}

dh::Outcome<PostalReply> parse_postal_reply(std::string_view body) {
  boost::system::error_code ec;
  boost::json::parse_options opt;
  opt.max_depth = 8;
  const auto v = boost::json::parse(body, ec, {}, opt);
  if (ec) return make_error("the reply is not JSON");
  if (!v.is_object()) return make_error("the reply is not a JSON object");
  const auto* status = v.as_object().if_contains("status");
  if (!status) return make_error("the reply has no status");
  std::int64_t code = -1;
  if (status->is_int64()) code = status->get_int64();
  if (status->is_uint64() && status->get_uint64() < 1000) code = static_cast<std::int64_t>(status->get_uint64());
  if (code < 100 || code > 599) return make_error("the reply's status is not a whole number from 100 to 599");
  PostalReply reply;
  reply.status = static_cast<unsigned>(code);
  const auto* item = v.as_object().if_contains("item_code");
  if (item && item->is_string() && is_item_code(item->get_string())) reply.item_code = std::string(item->get_string());
  return reply;
}

Classification classify_postal_reply(const PostalReply& reply) {
  return classify_postal_answer(reply.status, reply.item_code, std::chrono::milliseconds(0),
                                "reply " + std::to_string(reply.status));
}

Classification classify_agency_callback(const HttpResult& r, std::chrono::system_clock::time_point now) {
  return common(r, now);
}

}  // namespace dh::connectors
