// What the TLS tests share: the development certificates (made by certs/make-dev-certs.sh when
// missing: it is idempotent and locks its folder), a scriptable request handler, and running an
// io_context on the test's thread until something is true.
#pragma once

#include "hub/config/hub_config.hpp"
#include "hub/edge/http_server.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>

namespace dh::test {

inline std::filesystem::path dev_certs() {
  static std::once_flag once;
  const std::filesystem::path dir = std::filesystem::path(DH_SOURCE_DIR) / "certs" / "dev";
  std::call_once(once, [&] {
    const std::string cmd = std::string(DH_SOURCE_DIR) + "/certs/make-dev-certs.sh >/dev/null 2>&1";
    REQUIRE(std::system(cmd.c_str()) == 0);
  });
  return dir;
}

// name.crt, name.key and the dev CA (or another CA: the rogue one).
inline config::Tls dev_tls(const std::string& name, const std::string& ca = "ca") {
  const auto dir = dev_certs();
  return config::Tls{dir / (name + ".crt"), dir / (name + ".key"), dir / (ca + ".crt")};
}

// Runs the io_context on this thread until `done()` or the timeout; true when done.
inline bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    io.restart();
    io.run_for(std::chrono::milliseconds(5));
  }
  return true;
}

// A RequestHandler made of a function (a coroutine is not needed for scripted answers).
class FunctionHandler final : public edge::RequestHandler {
 public:
  using Fn = std::function<edge::Response(const edge::Request&, const edge::Peer&)>;
  explicit FunctionHandler(Fn fn) : fn_(std::move(fn)) {}
  boost::asio::awaitable<edge::Response> handle(edge::Request request, const edge::Peer& peer) override {
    co_return fn_(request, peer);
  }

 private:
  Fn fn_;
};

}  // namespace dh::test
