// The HTTPS client against the real edge listener on 127.0.0.1, port 0, with real TLS and the
// development certificates.
#include "hub/connectors/https_client.hpp"

#include "hub/edge/tls.hpp"
#include "tests/hub/connectors/tls_support.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>

#include <memory>
#include <optional>
#include <set>
#include <vector>

using namespace dh;
using namespace std::chrono_literals;
using connectors::HttpResult;
using connectors::NetworkError;
namespace asio = boost::asio;
namespace http = edge::http;

namespace {

// A TLS listener with a handler, on its own io_context which the test runs. At the end it stops,
// the io_context runs until its sessions have ended (clients, declared later, are gone by then),
// and the server goes before the io_context.
struct Server {
  explicit Server(edge::RequestHandler& handler, const std::string& cert = "postal-sim", const std::string& ca = "ca",
                  std::string address = "127.0.0.1", config::Limits limits = {})
      : tls(edge::make_server_context(test::dev_tls(cert, ca))) {
    server.emplace(*io, config::Listener{std::move(address), 0}, &tls, limits, handler, "test");
    server->start();
  }
  ~Server() {
    server->stop();
    io->restart();
    io->run_for(5s);  // returns as soon as there is no work left
    server.reset();
  }
  [[nodiscard]] std::string url(const std::string& path = "/echo", const std::string& host = "127.0.0.1") const {
    return "https://" + host + ":" + std::to_string(server->port()) + path;
  }
  std::unique_ptr<asio::io_context> io = std::make_unique<asio::io_context>(1);
  asio::ssl::context tls;
  std::optional<edge::HttpServer> server;
};

// What the server saw: connections (by remote port) and the client certificate.
struct Seen {
  std::set<std::string> remotes;
  std::vector<std::string> subjects;
  std::vector<bool> trusted;
  std::vector<std::string> keys;
  int requests = 0;
};

test::FunctionHandler recording(Seen& seen) {
  return test::FunctionHandler([&seen](const edge::Request& req, const edge::Peer& peer) {
    ++seen.requests;
    seen.remotes.insert(peer.remote);
    seen.subjects.push_back(peer.certificate ? peer.certificate->subject_cn : "");
    seen.trusted.push_back(peer.certificate_trusted);
    seen.keys.emplace_back(req["Idempotency-Key"]);
    auto res = edge::text_response(http::status::created, req.body());
    res.set(http::field::content_type, "application/json");
    return res;
  });
}

connectors::Headers key(std::string value) {
  connectors::Headers h;
  h.emplace_back("Idempotency-Key", std::move(value));
  return h;
}

// Sends `n` requests one after the other (or all at once) and collects the results.
asio::awaitable<void> send_one(connectors::HttpsClient& client, std::string url, std::string body,
                               std::vector<HttpResult>& out) {
  out.push_back(co_await client.post(std::move(url), "application/json", std::move(body), key("k1")));
}

asio::awaitable<void> send_sequence(connectors::HttpsClient& client, std::string url, int n,
                                    std::vector<HttpResult>& out) {
  for (int i = 0; i < n; ++i) co_await send_one(client, url, "{\"n\":" + std::to_string(i) + "}", out);
}

struct Client {
  explicit Client(connectors::ClientOptions options = {}, const std::string& cert = "hub")
      : tls(edge::make_client_context(test::dev_tls(cert))), client(tls, std::move(options)) {}
  asio::ssl::context tls;
  connectors::HttpsClient client;
};

}  // namespace

TEST_CASE("https client: mTLS, keep-alive reuse of one connection", "[https_client]") {
  Seen seen;
  auto handler = recording(seen);
  Server server(handler);
  Client c;
  std::vector<HttpResult> results;
  asio::co_spawn(*server.io, send_sequence(c.client, server.url(), 5, results), asio::detached);
  REQUIRE(test::run_until(*server.io, [&] { return results.size() == 5; }));
  for (const auto& r : results) {
    INFO(r.summary());
    REQUIRE(r.answered());
    CHECK(r.status == 201);
    CHECK(r.content_type == "application/json");
  }
  CHECK(results[3].body == "{\"n\":3}");
  CHECK(seen.remotes.size() == 1);  // five requests, one connection
  CHECK(c.client.connections_opened() == 1);
  CHECK(seen.subjects == std::vector<std::string>(5, "hub"));
  CHECK(seen.trusted == std::vector<bool>(5, true));
  CHECK(seen.keys == std::vector<std::string>(5, "k1"));
}

TEST_CASE("https client: at most `connections` per host, and they are reused", "[https_client]") {
  Seen seen;
  auto handler = recording(seen);
  Server server(handler);
  connectors::ClientOptions options;
  options.connections = 2;
  Client c(options);
  std::vector<HttpResult> results;
  for (int i = 0; i < 8; ++i)
    asio::co_spawn(*server.io, send_one(c.client, server.url(), "{}", results), asio::detached);
  REQUIRE(test::run_until(*server.io, [&] { return results.size() == 8; }));
  for (const auto& r : results) CHECK(r.status == 201);
  CHECK(seen.remotes.size() == 2);
  CHECK(c.client.connections_opened() == 2);
}

TEST_CASE("https client: per-endpoint connection limit from the configuration", "[https_client]") {
  Seen seen;
  auto handler = recording(seen);
  Server server(handler);
  Client c;
  config::Endpoint ep;
  ep.url = server.url("");
  ep.connections = 1;
  REQUIRE(c.client.set_endpoint(ep));
  std::vector<HttpResult> results;
  for (int i = 0; i < 4; ++i)
    asio::co_spawn(*server.io, send_one(c.client, server.url(), "{}", results), asio::detached);
  REQUIRE(test::run_until(*server.io, [&] { return results.size() == 4; }));
  CHECK(seen.remotes.size() == 1);
  CHECK_FALSE(c.client.set_endpoint(config::Endpoint{"http://127.0.0.1:1", 1000ms, 1}));
}

TEST_CASE("https client: a kept-alive connection the server closed is replaced, the request is not lost",
          "[https_client]") {
  Seen seen;
  auto handler = recording(seen);
  config::Limits limits;
  limits.idle_timeout = 50ms;  // the server drops idle connections quickly
  Server server(handler, "postal-sim", "ca", "127.0.0.1", limits);
  Client c;  // the client keeps idle connections for 20 s: it does not know
  std::vector<HttpResult> results;
  asio::co_spawn(*server.io, send_one(c.client, server.url(), "{}", results), asio::detached);
  REQUIRE(test::run_until(*server.io, [&] { return results.size() == 1; }));
  // Let the server's idle timeout close its side of the connection (it then waits for the
  // client's close_notify, which never comes: the connection sits in the client's pool).
  test::run_until(
      *server.io, [] { return false; }, 200ms);
  asio::co_spawn(*server.io, send_one(c.client, server.url(), "{}", results), asio::detached);
  REQUIRE(test::run_until(*server.io, [&] { return results.size() == 2; }));
  INFO(results[1].summary());
  CHECK(results[1].status == 201);
  CHECK(seen.requests == 2);
  CHECK(seen.remotes.size() == 2);
}

namespace {

// Answers only when the test says so: a server that hangs.
class Silent final : public edge::RequestHandler {
 public:
  asio::awaitable<edge::Response> handle(edge::Request, const edge::Peer&) override {
    asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::hours(1));
    timers_.push_back(&t);
    co_await t.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    co_return edge::text_response(http::status::ok, "late\n");
  }
  void release() {
    for (auto* t : timers_) t->cancel();
    timers_.clear();
  }
  std::vector<asio::steady_timer*> timers_;
};

}  // namespace

TEST_CASE("https client: a server that never answers is a timeout, within the deadline", "[https_client]") {
  Silent handler;
  Server server(handler);
  connectors::ClientOptions options;
  options.timeout = 300ms;
  Client c(options);
  std::vector<HttpResult> results;
  const auto start = std::chrono::steady_clock::now();
  asio::co_spawn(*server.io, send_one(c.client, server.url(), "{}", results), asio::detached);
  REQUIRE(test::run_until(*server.io, [&] { return results.size() == 1; }));
  const auto took = std::chrono::steady_clock::now() - start;
  REQUIRE(results[0].error);
  CHECK(*results[0].error == NetworkError::timeout);
  CHECK(took >= 250ms);
  CHECK(took < 3s);
  // The timed-out connection is not reused: the next request opens another.
  asio::co_spawn(*server.io, send_one(c.client, server.url(), "{}", results), asio::detached);
  REQUIRE(test::run_until(*server.io, [&] { return results.size() == 2; }));
  CHECK(c.client.connections_opened() == 2);
  handler.release();
}

TEST_CASE("https client: a server certificate from an untrusted CA fails the handshake", "[https_client]") {
  Seen seen;
  auto handler = recording(seen);
  Server server(handler, "rogue-client", "rogue-ca");  // signed by the rogue CA
  Client c;
  std::vector<HttpResult> results;
  asio::co_spawn(*server.io, send_one(c.client, server.url(), "{}", results), asio::detached);
  REQUIRE(test::run_until(*server.io, [&] { return results.size() == 1; }));
  INFO(results[0].summary());
  REQUIRE(results[0].error);
  CHECK(*results[0].error == NetworkError::tls);
  CHECK(results[0].error_detail.find("certificate") != std::string::npos);
  CHECK(seen.requests == 0);
  CHECK(c.client.connections_opened() == 0);
}

TEST_CASE("https client: a trusted certificate for another host name fails the handshake", "[https_client]") {
  Seen seen;
  auto handler = recording(seen);
  // postal-sim.crt names localhost, 127.0.0.1 and ::1; the server listens on 127.0.0.2.
  Server server(handler, "postal-sim", "ca", "127.0.0.2");
  Server by_name(handler);
  Client c;
  std::vector<HttpResult> results;
  asio::co_spawn(*server.io, send_one(c.client, server.url("/echo", "127.0.0.2"), "{}", results), asio::detached);
  REQUIRE(test::run_until(*server.io, [&] { return results.size() == 1; }));
  INFO(results[0].summary());
  REQUIRE(results[0].error);
  CHECK(*results[0].error == NetworkError::tls);
  CHECK(seen.requests == 0);

  // By name: "localhost" is in the certificate and resolves to 127.0.0.1, where this one listens.
  asio::co_spawn(*by_name.io, send_one(c.client, by_name.url("/echo", "localhost"), "{}", results), asio::detached);
  REQUIRE(test::run_until(*by_name.io, [&] { return results.size() == 2; }));
  INFO(results[1].summary());
  CHECK(results[1].status == 201);
}

TEST_CASE("https client: refused connections, bad URLs, bodies over the limit", "[https_client]") {
  asio::io_context io;
  Client c;
  std::vector<HttpResult> results;
  // A port nobody listens on: bind one, note it, close it.
  std::uint16_t closed_port = 0;
  {
    asio::ip::tcp::acceptor a(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    closed_port = a.local_endpoint().port();
  }
  asio::co_spawn(io, send_one(c.client, "https://127.0.0.1:" + std::to_string(closed_port) + "/x", "{}", results),
                 asio::detached);
  asio::co_spawn(io, send_one(c.client, "http://127.0.0.1:1/x", "{}", results), asio::detached);
  asio::co_spawn(io, send_one(c.client, "not a url", "{}", results), asio::detached);
  REQUIRE(test::run_until(io, [&] { return results.size() == 3; }));
  std::multiset<NetworkError> errors;
  for (const auto& r : results) {
    REQUIRE(r.error);
    errors.insert(*r.error);
  }
  CHECK(errors.count(NetworkError::refused) == 1);
  CHECK(errors.count(NetworkError::bad_url) == 2);

  Seen seen;
  auto big = test::FunctionHandler([](const edge::Request&, const edge::Peer&) {
    return edge::text_response(http::status::ok, std::string(64 * 1024, 'x'));
  });
  Server server(big);
  connectors::ClientOptions options;
  options.max_body_bytes = 1024;
  Client small(options);
  std::vector<HttpResult> got;
  asio::co_spawn(*server.io, send_one(small.client, server.url(), "{}", got), asio::detached);
  REQUIRE(test::run_until(*server.io, [&] { return got.size() == 1; }));
  REQUIRE(got[0].error);
  CHECK(*got[0].error == NetworkError::too_large);
}
