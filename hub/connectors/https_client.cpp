#include "hub/connectors/https_client.hpp"

#include <boost/asio/experimental/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <deque>

namespace dh::connectors {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;
using boost::system::error_code;
// Errors are values on this path: every awaited operation returns (error_code, ...).
constexpr auto nothrow = asio::experimental::as_tuple(asio::use_awaitable);

std::string_view to_string(NetworkError e) noexcept {
  switch (e) {
    case NetworkError::bad_url:
      return "bad_url";
    case NetworkError::resolve:
      return "resolve";
    case NetworkError::refused:
      return "refused";
    case NetworkError::timeout:
      return "timeout";
    case NetworkError::tls:
      return "tls";
    case NetworkError::reset:
      return "reset";
    case NetworkError::protocol:
      return "protocol";
    case NetworkError::too_large:
      return "too_large";
  }
  return "network";
}

std::string HttpResult::summary() const {
  if (!error) return std::to_string(status);
  std::string s(to_string(*error));
  if (!error_detail.empty()) s += ": " + error_detail;
  return s;
}

// ---------------------------------------------------------------- connections and pools

struct HttpsClient::Connection {
  Connection(const asio::any_io_executor& ex, ssl::context& ctx) : stream(ex, ctx) {}
  beast::ssl_stream<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  steady::time_point idle_since{};
};

namespace {

struct Waiter {
  explicit Waiter(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;
  bool woken = false;  // a connection slot was freed for it
  bool gone = false;   // it gave up (deadline)
};

}  // namespace

struct HttpsClient::Pool {
  std::size_t open = 0;                           // idle + in use + being connected
  std::vector<std::unique_ptr<Connection>> idle;  // most recently used last
  std::deque<std::shared_ptr<Waiter>> waiters;    // requests waiting for a slot, oldest first
};

namespace {

using Connection = HttpsClient::Connection;
using Pool = HttpsClient::Pool;

struct Target {
  std::string host;  // name or address, without IPv6 brackets
  std::string port;  // "443" when the URL has none
  std::uint16_t port_number = 443;
  bool is_address = false;  // an IP literal: no DNS, no SNI, verified as an IP SAN
  std::string host_header;  // host[:port] as written in the URL
  std::string path;         // origin-form request target
  std::string key;          // "host:port": the pool
};

std::optional<Target> parse_target(std::string_view url) {
  auto u = boost::urls::parse_uri(url);
  if (!u || u->scheme_id() != boost::urls::scheme::https) return std::nullopt;
  const auto type = u->host_type();
  if (type != boost::urls::host_type::name && type != boost::urls::host_type::ipv4 &&
      type != boost::urls::host_type::ipv6)
    return std::nullopt;
  Target t;
  t.host = u->host_address();
  if (t.host.empty()) return std::nullopt;
  t.is_address = type != boost::urls::host_type::name;
  if (u->has_port() && u->port_number() == 0) return std::nullopt;  // empty, 0 or over 65535
  t.port_number = u->has_port() ? u->port_number() : 443;
  t.port = std::to_string(t.port_number);
  t.host_header = std::string(u->encoded_host_and_port());
  t.path = std::string(u->encoded_target());
  if (t.path.empty()) t.path = "/";
  t.key = t.host + ":" + t.port;
  return t;
}

HttpResult failure(NetworkError e, std::string detail) {
  HttpResult r;
  r.error = e;
  r.error_detail = std::move(detail);
  return r;
}

bool closed_by_peer(const error_code& ec) {
  return ec == asio::error::eof || ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
         ec == asio::error::connection_aborted || ec == asio::error::broken_pipe || ec == ssl::error::stream_truncated;
}

// After connect and handshake: what went wrong while writing or reading.
HttpResult exchange_failure(const error_code& ec) {
  if (ec == beast::error::timeout) return failure(NetworkError::timeout, "no whole answer within the timeout");
  if (ec == http::error::body_limit) return failure(NetworkError::too_large, "the answer's body is over the limit");
  if (ec == http::error::partial_message || closed_by_peer(ec)) return failure(NetworkError::reset, ec.message());
  if (ec.category() == http::make_error_code(http::error::bad_target).category())
    return failure(NetworkError::protocol, ec.message());
  return failure(NetworkError::reset, ec.message());
}

void release(Pool& pool, std::unique_ptr<Connection> conn) {
  if (conn) {
    beast::get_lowest_layer(conn->stream).expires_never();
    conn->idle_since = steady::now();
    pool.idle.push_back(std::move(conn));
  } else {
    --pool.open;
  }
  while (!pool.waiters.empty()) {
    auto w = std::move(pool.waiters.front());
    pool.waiters.pop_front();
    if (w->gone) continue;
    w->woken = true;
    w->timer.cancel();
    break;
  }
}

// Gives an idle connection (in `out`), or reserves a slot for a new one (`out` stays null), or
// waits for one until the deadline.
asio::awaitable<std::optional<HttpResult>> acquire(Pool& pool, std::size_t max, std::chrono::milliseconds idle_timeout,
                                                   steady::time_point deadline, std::unique_ptr<Connection>& out) {
  for (;;) {
    const auto now = steady::now();
    // Idle connections the server has probably closed by now are closed here first.
    const auto stale = std::remove_if(pool.idle.begin(), pool.idle.end(), [&](const auto& c) {
      return now - c->idle_since > idle_timeout || !beast::get_lowest_layer(c->stream).socket().is_open();
    });
    pool.open -= static_cast<std::size_t>(pool.idle.end() - stale);
    pool.idle.erase(stale, pool.idle.end());
    if (!pool.idle.empty()) {
      out = std::move(pool.idle.back());
      pool.idle.pop_back();
      co_return std::nullopt;
    }
    if (pool.open < max) {
      ++pool.open;
      co_return std::nullopt;
    }
    if (now >= deadline) break;
    auto w = std::make_shared<Waiter>(co_await asio::this_coro::executor);
    w->timer.expires_at(deadline);
    pool.waiters.push_back(w);
    co_await w->timer.async_wait(nothrow);
    if (!w->woken) {
      w->gone = true;
      break;
    }
  }
  co_return failure(NetworkError::timeout, "no free connection within the timeout");
}

std::string verify_detail(Connection& c, const error_code& ec) {
  std::string detail = ec.message();
  const long v = SSL_get_verify_result(c.stream.native_handle());
  if (v != X509_V_OK) detail += std::string(" (") + X509_verify_cert_error_string(v) + ")";
  return detail;
}

asio::awaitable<std::optional<HttpResult>> connect(Connection& c, const Target& t, steady::time_point deadline) {
  auto& tcp_layer = beast::get_lowest_layer(c.stream);
  tcp_layer.expires_at(deadline);
  error_code ec;
  if (t.is_address) {
    error_code aec;
    const auto address = asio::ip::make_address(t.host, aec);
    if (aec) co_return failure(NetworkError::bad_url, "not an IP address");
    std::tie(ec) = co_await tcp_layer.async_connect(tcp::endpoint(address, t.port_number), nothrow);
  } else {
    // The resolver has no deadline of its own: a timer cancels it.
    auto resolver = std::make_shared<tcp::resolver>(c.stream.get_executor());
    auto timer = std::make_shared<asio::steady_timer>(c.stream.get_executor(), deadline);
    timer->async_wait([resolver](error_code tec) {
      if (!tec) resolver->cancel();
    });
    auto [rec, results] = co_await resolver->async_resolve(t.host, t.port, nothrow);
    timer->cancel();
    if (rec == asio::error::operation_aborted) co_return failure(NetworkError::timeout, "name resolution timed out");
    if (rec) co_return failure(NetworkError::resolve, rec.message());
    tcp_layer.expires_at(deadline);
    std::tie(ec, std::ignore) = co_await tcp_layer.async_connect(results, nothrow);
  }
  if (ec == beast::error::timeout) co_return failure(NetworkError::timeout, "connect timed out");
  if (ec) co_return failure(NetworkError::refused, ec.message());
  tcp_layer.socket().set_option(tcp::no_delay(true), ec);

  SSL* ssl_handle = c.stream.native_handle();
  // The server's certificate must chain to the CA (verify_peer, whatever the context says) and
  // name the host we asked for: a DNS name, or an IP address SAN for an IP literal.
  c.stream.set_verify_mode(ssl::verify_peer);
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl_handle);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (t.is_address) {
    X509_VERIFY_PARAM_set1_ip_asc(param, t.host.c_str());
  } else {
    // SNI (SSL_set_tlsext_host_name is a macro with a C cast).
    SSL_ctrl(ssl_handle, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(t.host.c_str()));
    X509_VERIFY_PARAM_set1_host(param, t.host.c_str(), 0);
  }
  tcp_layer.expires_at(deadline);
  auto [hec] = co_await c.stream.async_handshake(ssl::stream_base::client, nothrow);
  if (hec == beast::error::timeout) co_return failure(NetworkError::timeout, "TLS handshake timed out");
  if (hec) co_return failure(NetworkError::tls, verify_detail(c, hec));
  co_return std::nullopt;
}

struct Exchange {
  HttpResult result;
  bool reusable = false;    // the connection may serve another request
  bool send_again = false;  // a reused connection was already closed: nothing was answered
};

asio::awaitable<Exchange> exchange(Connection& c, const http::request<http::string_body>& req, bool reused,
                                   std::size_t max_body, steady::time_point deadline) {
  Exchange x;
  auto& tcp_layer = beast::get_lowest_layer(c.stream);
  tcp_layer.expires_at(deadline);
  auto [wec, wn] = co_await http::async_write(c.stream, req, nothrow);
  if (wec) {
    x.send_again = reused && closed_by_peer(wec);
    x.result = exchange_failure(wec);
    co_return x;
  }
  http::response_parser<http::string_body> parser;
  parser.body_limit(max_body);
  tcp_layer.expires_at(deadline);
  auto [rec, rn] = co_await http::async_read(c.stream, c.buffer, parser, nothrow);
  if (rec) {
    x.send_again = reused && !parser.got_some() && c.buffer.size() == 0 && closed_by_peer(rec);
    x.result = exchange_failure(rec);
    co_return x;
  }
  auto& res = parser.get();
  x.result.status = res.result_int();
  x.result.content_type = std::string(res[http::field::content_type]);
  x.result.retry_after = std::string(res[http::field::retry_after]);
  x.reusable = res.keep_alive() && !res.need_eof();
  x.result.body = std::move(res.body());
  co_return x;
}

}  // namespace

// ---------------------------------------------------------------- the client

HttpsClient::HttpsClient(ssl::context& tls, ClientOptions defaults) : tls_(tls), defaults_(std::move(defaults)) {}

HttpsClient::~HttpsClient() = default;

bool HttpsClient::set_endpoint(const config::Endpoint& endpoint) {
  auto t = parse_target(endpoint.url);
  if (!t) return false;
  limits_[t->key] = Limits{endpoint.timeout, std::max<std::size_t>(1, endpoint.connections)};
  return true;
}

HttpsClient::Pool& HttpsClient::pool_for(const std::string& key) {
  auto it = pools_.find(key);
  if (it == pools_.end()) it = pools_.emplace(key, std::make_unique<Pool>()).first;
  return *it->second;
}

void HttpsClient::close_idle() {
  for (auto& [key, pool] : pools_) {
    pool->open -= pool->idle.size();
    pool->idle.clear();
  }
}

asio::awaitable<HttpResult> HttpsClient::post(std::string url, std::string content_type, std::string body,
                                              Headers headers) {
  return request("POST", std::move(url), std::move(content_type), std::move(body), std::move(headers));
}

asio::awaitable<HttpResult> HttpsClient::request(std::string method, std::string url, std::string content_type,
                                                 std::string body, Headers headers) {
  const auto verb = http::string_to_verb(method);
  if (verb == http::verb::unknown) co_return failure(NetworkError::bad_url, "not an HTTP method");
  const auto target = parse_target(url);
  if (!target) co_return failure(NetworkError::bad_url, "not an https:// URL with a host");
  Limits limits{defaults_.timeout, std::max<std::size_t>(1, defaults_.connections)};
  if (auto it = limits_.find(target->key); it != limits_.end()) limits = it->second;
  const auto deadline = steady::now() + limits.timeout;
  const auto ex = co_await asio::this_coro::executor;

  http::request<http::string_body> req{verb, target->path, 11};
  req.set(http::field::host, target->host_header);
  req.set(http::field::user_agent, defaults_.user_agent);
  if (!content_type.empty()) req.set(http::field::content_type, content_type);
  req.set(http::field::accept, "application/json");
  for (const auto& [name, value] : headers) req.set(name, value);
  req.keep_alive(true);
  req.body() = std::move(body);
  req.prepare_payload();

  Pool& pool = pool_for(target->key);
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<Connection> conn;
    if (auto refused = co_await acquire(pool, limits.connections, defaults_.idle_timeout, deadline, conn))
      co_return std::move(*refused);
    const bool reused = conn != nullptr;
    if (!conn) {
      conn = std::make_unique<Connection>(ex, tls_);
      if (auto failed = co_await connect(*conn, *target, deadline)) {
        release(pool, nullptr);  // the failed connection is dropped with `conn`
        co_return std::move(*failed);
      }
      ++opened_;
    }
    Exchange x = co_await exchange(*conn, req, reused, defaults_.max_body_bytes, deadline);
    release(pool, x.reusable ? std::move(conn) : nullptr);
    // A kept-alive connection the server closed meanwhile: the request never reached it.
    if (x.send_again && attempt == 0 && steady::now() < deadline) continue;
    co_return std::move(x.result);
  }
}

}  // namespace dh::connectors
