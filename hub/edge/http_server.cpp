#include "hub/edge/http_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/as_tuple.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <iostream>

namespace dh::edge {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
// Errors are values on this path: every awaited operation returns (error_code, ...).
constexpr auto nothrow = asio::experimental::as_tuple(asio::use_awaitable);

Response text_response(http::status status, std::string body, unsigned version) {
  Response res{status, version};
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

HttpServer::HttpServer(asio::io_context& io, config::Listener listener, asio::ssl::context* tls, config::Limits limits,
                       RequestHandler& handler, std::string name)
    : io_(io), listener_(std::move(listener)), tls_(tls), limits_(limits), handler_(handler), name_(std::move(name)) {}

HttpServer::~HttpServer() = default;

void HttpServer::start() {
  const tcp::endpoint ep(asio::ip::make_address(listener_.address), listener_.port);
  acceptor_.emplace(io_);
  acceptor_->open(ep.protocol());
  acceptor_->set_option(asio::socket_base::reuse_address(true));
  acceptor_->bind(ep);
  acceptor_->listen(asio::socket_base::max_listen_connections);
  port_ = acceptor_->local_endpoint().port();
  asio::co_spawn(io_, accept_loop(), asio::detached);
}

void HttpServer::stop() {
  stopping_ = true;
  if (acceptor_) {
    boost::system::error_code ec;
    acceptor_->close(ec);
  }
}

std::uint16_t HttpServer::port() const noexcept {
  return port_;
}
std::size_t HttpServer::connections() const noexcept {
  return connections_.load();
}

asio::awaitable<void> HttpServer::accept_loop() {
  while (!stopping_) {
    auto [ec, socket] = co_await acceptor_->async_accept(nothrow);
    if (ec) {
      if (stopping_ || ec == asio::error::operation_aborted) co_return;
      continue;  // e.g. too many open files: keep serving the connections we have
    }
    if (connections_.load() >= limits_.max_connections) {
      boost::system::error_code ignored;
      socket.close(ignored);  // over the limit: refuse at once, before any TLS work
      continue;
    }
    socket.set_option(tcp::no_delay(true));
    if (tls_)
      asio::co_spawn(io_, session_tls(std::move(socket)), asio::detached);
    else
      asio::co_spawn(io_, session_plain(std::move(socket)), asio::detached);
  }
}

namespace {

struct ConnectionCount {
  std::atomic<std::size_t>& n;
  explicit ConnectionCount(std::atomic<std::size_t>& c) : n(c) { ++n; }
  ~ConnectionCount() { --n; }
};

std::string remote_of(const tcp::socket& s) {
  boost::system::error_code ec;
  const auto ep = s.remote_endpoint(ec);
  return ec ? "?" : ep.address().to_string() + ":" + std::to_string(ep.port());
}

}  // namespace

asio::awaitable<void> HttpServer::session_tls(tcp::socket socket) {
  ConnectionCount count(connections_);
  Peer peer;
  peer.remote = remote_of(socket);
  peer.tls = true;
  beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *tls_);
  beast::get_lowest_layer(stream).expires_after(limits_.handshake_timeout);
  auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, nothrow);
  if (ec) co_return;  // not TLS, or too slow: nothing to answer
  SSL* ssl = stream.native_handle();
  if (X509* cert = SSL_get1_peer_certificate(ssl)) {
    peer.certificate = facts_of(cert);
    peer.certificate_trusted = SSL_get_verify_result(ssl) == X509_V_OK;
    X509_free(cert);
  }
  co_await serve(stream, std::move(peer));
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
  co_await stream.async_shutdown(nothrow);
}

asio::awaitable<void> HttpServer::session_plain(tcp::socket socket) {
  ConnectionCount count(connections_);
  Peer peer;
  peer.remote = remote_of(socket);
  beast::tcp_stream stream(std::move(socket));
  co_await serve(stream, std::move(peer));
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

template <class Stream>
asio::awaitable<void> HttpServer::serve(Stream& stream, Peer peer) {
  beast::flat_buffer buffer;
  while (!stopping_) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits_.max_header_bytes));
    parser.body_limit(limits_.max_body_bytes);
    // The headers of the next request must come within the idle timeout; the body within the
    // read timeout after them. A client that trickles bytes is cut off either way.
    beast::get_lowest_layer(stream).expires_after(limits_.idle_timeout);
    auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, nothrow);
    if (!ec) {
      beast::get_lowest_layer(stream).expires_after(limits_.read_timeout);
      std::tie(ec, n) = co_await http::async_read(stream, buffer, parser, nothrow);
    }
    if (ec) {
      std::optional<Response> refusal;
      if (ec == http::error::body_limit)
        refusal = text_response(http::status::payload_too_large,
                                "the body is larger than " + std::to_string(limits_.max_body_bytes) + " bytes\n");
      else if (ec == http::error::header_limit)
        refusal = text_response(http::status::request_header_fields_too_large, "the headers are too large\n");
      else if (ec != http::error::end_of_stream && ec != beast::error::timeout && ec != asio::error::eof &&
               ec != asio::ssl::error::stream_truncated && ec != asio::error::connection_reset &&
               ec.category() == http::make_error_code(http::error::bad_target).category())
        refusal = text_response(http::status::bad_request, "not a well-formed HTTP request\n");
      if (refusal) {
        refusal->set(http::field::connection, "close");
        beast::get_lowest_layer(stream).expires_after(limits_.read_timeout);
        co_await http::async_write(stream, *refusal, nothrow);
      }
      co_return;
    }
    Request request = parser.release();
    const bool keep_alive = request.keep_alive();
    Response response = co_await handler_.handle(std::move(request), peer);
    response.keep_alive(keep_alive && !stopping_);
    response.prepare_payload();
    beast::get_lowest_layer(stream).expires_after(limits_.read_timeout);
    auto [wec, wn] = co_await http::async_write(stream, response, nothrow);
    if (wec || !response.keep_alive()) co_return;
  }
}

}  // namespace dh::edge
