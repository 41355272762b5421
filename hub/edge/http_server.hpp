// The HTTP(S) listener and its sessions (Boost.Beast, C++20 coroutines). A session only reads a
// request within the edge limits, hands it to a RequestHandler with what it knows of the peer,
// and writes the answer: it knows nothing of dossiers. Every limit and timeout is a setting
// (config::Limits): header and body size (431/413), handshake, header and body timeouts (slow
// clients are cut off), connection count, keep-alive.
#pragma once

#include "hub/config/hub_config.hpp"
#include "hub/edge/client_identity.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <memory>
#include <optional>
#include <string>

namespace dh::edge {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// What the session knows of the other side.
struct Peer {
  std::string remote;  // "127.0.0.1:53122"
  bool tls = false;
  std::optional<CertificateFacts> certificate;  // presented and parsed
  bool certificate_trusted = false;             // chains to the configured CA
};

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  virtual boost::asio::awaitable<Response> handle(Request request, const Peer& peer) = 0;
};

// A plain-text response with the given status (problem+json for errors is built by handlers).
Response text_response(http::status status, std::string body, unsigned version = 11);

class HttpServer {
 public:
  // `tls` null: plain HTTP (the admin listener on loopback).
  HttpServer(boost::asio::io_context& io, config::Listener listener, boost::asio::ssl::context* tls,
             config::Limits limits, RequestHandler& handler, std::string name);
  ~HttpServer();

  // Binds and starts accepting. Throws on a bind failure (start-up).
  void start();
  // Stops accepting; open sessions finish the request they are on and close.
  void stop();
  [[nodiscard]] std::uint16_t port() const noexcept;
  [[nodiscard]] std::size_t connections() const noexcept;

 private:
  boost::asio::awaitable<void> accept_loop();
  template <class Stream>
  boost::asio::awaitable<void> serve(Stream& stream, Peer peer);
  boost::asio::awaitable<void> session_tls(boost::asio::ip::tcp::socket socket);
  boost::asio::awaitable<void> session_plain(boost::asio::ip::tcp::socket socket);

  boost::asio::io_context& io_;
  config::Listener listener_;
  boost::asio::ssl::context* tls_;
  config::Limits limits_;
  RequestHandler& handler_;
  std::string name_;
  std::optional<boost::asio::ip::tcp::acceptor> acceptor_;
  std::atomic<std::size_t> connections_{0};
  std::atomic<bool> stopping_{false};
  std::uint16_t port_ = 0;
};

}  // namespace dh::edge
