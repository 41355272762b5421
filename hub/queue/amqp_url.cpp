#include "hub/queue/amqp_url.hpp"

#include <charconv>

namespace dh::queue {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Outcome<std::string> percent_decode(std::string_view s, std::string_view what) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    const int hi = i + 2 < s.size() ? hex_value(s[i + 1]) : -1;
    const int lo = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
    if (hi < 0 || lo < 0) return make_error("the broker URL's " + std::string(what) + " has a bad %-escape");
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

std::string percent_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

}  // namespace

Outcome<BrokerAddress> parse_amqp_url(std::string_view url) {
  constexpr std::string_view kScheme = "amqp://";
  if (url.rfind("amqps://", 0) == 0)
    return make_error("the broker URL is amqps:// (TLS), which this build does not support: use amqp://");
  if (url.rfind(kScheme, 0) != 0) return make_error("the broker URL must start with amqp://");
  std::string_view rest = url.substr(kScheme.size());
  if (rest.find_first_of("?#") != std::string_view::npos)
    return make_error("the broker URL has query parameters or a fragment: use the configuration's keys instead");

  BrokerAddress b;
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    const std::string_view path = rest.substr(slash + 1);
    if (path.find('/') != std::string_view::npos)
      return make_error("the broker URL's vhost has a '/': write it as %2F");
    if (!path.empty()) {
      auto v = percent_decode(path, "vhost");
      if (!v) return v.error();
      b.vhost = std::move(*v);
    }
  }
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const auto colon = userinfo.find(':');
    auto user = percent_decode(userinfo.substr(0, colon), "user");
    if (!user) return user.error();
    b.user = std::move(*user);
    b.password.clear();
    if (colon != std::string_view::npos) {
      auto password = percent_decode(userinfo.substr(colon + 1), "password");
      if (!password) return password.error();
      b.password = std::move(*password);
    }
  }
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return make_error("the broker URL's IPv6 host has no closing ']'");
    b.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return make_error("the broker URL has text after its IPv6 host");
      port = after.substr(1);
      if (port.empty()) return make_error("the broker URL has an empty port");
    }
  } else {
    const auto colon = authority.find(':');
    b.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) return make_error("the broker URL has an empty port");
    }
  }
  if (b.host.empty()) return make_error("the broker URL has no host");
  if (!port.empty()) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
    if (ec != std::errc() || p != port.data() + port.size() || v == 0 || v > 65535)
      return make_error("the broker URL's port must be a number from 1 to 65535");
    b.port = static_cast<std::uint16_t>(v);
  }
  return b;
}

std::string to_display(const BrokerAddress& b) {
  const bool v6 = b.host.find(':') != std::string::npos;
  return "amqp://" + percent_encode(b.user) + "@" + (v6 ? "[" + b.host + "]" : b.host) + ":" + std::to_string(b.port) +
         "/" + percent_encode(b.vhost);
}

}  // namespace dh::queue
