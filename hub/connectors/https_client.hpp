// The hub's outbound HTTPS/1.1 client: mutual TLS with the hub's client certificate, the server's
// certificate verified against the configured CA and its name against the URL's host, kept-alive
// connections reused from a small pool per host:port, one deadline per request (waiting for a
// connection, connect, handshake, write and read), and a bound on the response body.
//
// Delivery semantics: post() sends a request at most once per call, with one exception: a request
// written on a reused connection that the server had already closed (no byte of an answer came
// back) is sent once more on a new connection; every request the hub sends carries an
// Idempotency-Key, so the repeat is safe. A connection that failed in any way is closed, never
// reused. Errors are values (HttpResult), never exceptions.
//
// Threading: one HttpsClient is used from one strand (or a one-thread io_context): its pools are
// not locked. Sockets and timers use the awaiting coroutine's executor, so the client (which keeps
// idle connections) is destroyed before that io_context, with no request of it in progress.
#pragma once

#include "hub/config/hub_config.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dh::connectors {

using Headers = std::vector<std::pair<std::string, std::string>>;

// Why a request got no HTTP answer. The text (to_string) is safe for logs and last_error.
enum class NetworkError {
  bad_url,    // not an https:// URL with a host
  resolve,    // the host name did not resolve
  refused,    // connection refused or the host unreachable
  timeout,    // the request's deadline passed (waiting for a connection, connect, TLS, write or read)
  tls,        // the TLS handshake failed: certificate not trusted, wrong host name, protocol
  reset,      // the peer closed or reset the connection before a whole answer
  protocol,   // the answer is not well-formed HTTP/1.1
  too_large,  // the answer's body is larger than the client's limit
};
std::string_view to_string(NetworkError e) noexcept;

struct HttpResult {
  // The answer, when one came: status code and body (at most the body limit).
  unsigned status = 0;
  std::string body;
  std::string content_type;
  std::string retry_after;  // the Retry-After header as sent, "" when absent
  // Otherwise the network error, with the system's one-line description (no message content).
  std::optional<NetworkError> error;
  std::string error_detail;

  [[nodiscard]] bool answered() const noexcept { return !error; }
  // "503", "timeout: Connection timed out", ...: safe text for logs and the outbox's last_error.
  [[nodiscard]] std::string summary() const;
};

// What the dispatcher needs from a client; HttpsClient is the real one, tests script their own.
class HttpClient {
 public:
  virtual ~HttpClient() = default;
  virtual boost::asio::awaitable<HttpResult> post(std::string url, std::string content_type, std::string body,
                                                  Headers headers) = 0;
};

struct ClientOptions {
  std::chrono::milliseconds timeout{5000};        // per request, everything included
  std::size_t connections = 8;                    // per host:port, in use and idle together
  std::size_t max_body_bytes = 1 << 20;           // of an answer: larger is NetworkError::too_large
  std::chrono::milliseconds idle_timeout{20000};  // an idle connection older than this is closed,
                                                  // before the server's own idle timeout does
  std::string user_agent = "dossier-hub";
};

class HttpsClient final : public HttpClient {
 public:
  // `tls` comes from edge::make_client_context (client certificate, CA, verify_peer); it must
  // outlive the client.
  explicit HttpsClient(boost::asio::ssl::context& tls, ClientOptions defaults = {});
  ~HttpsClient() override;
  HttpsClient(const HttpsClient&) = delete;
  HttpsClient& operator=(const HttpsClient&) = delete;

  // Per-origin settings from the hub configuration (timeout, connections), for every URL on the
  // same host:port as `endpoint.url`. Other origins use the defaults. Returns false for a URL that
  // is not https://host[:port].
  bool set_endpoint(const config::Endpoint& endpoint);

  boost::asio::awaitable<HttpResult> post(std::string url, std::string content_type, std::string body,
                                          Headers headers) override;
  // Any method ("GET", "PUT", ...): the simulator's tests and tools read with it. An empty body
  // with an empty content type sends neither.
  boost::asio::awaitable<HttpResult> request(std::string method, std::string url, std::string content_type,
                                             std::string body, Headers headers);

  // Closes every idle connection (in-use ones close when their request ends).
  void close_idle();
  // New connections made so far (tests see keep-alive reuse with it).
  [[nodiscard]] std::size_t connections_opened() const noexcept { return opened_; }

  struct Connection;
  struct Pool;

 private:
  struct Limits {
    std::chrono::milliseconds timeout;
    std::size_t connections;
  };
  Pool& pool_for(const std::string& key);

  boost::asio::ssl::context& tls_;
  ClientOptions defaults_;
  std::map<std::string, Limits, std::less<>> limits_;  // "host:port" -> set_endpoint()'s
  std::map<std::string, std::unique_ptr<Pool>, std::less<>> pools_;
  std::size_t opened_ = 0;
};

}  // namespace dh::connectors
