// The operators' listener (plain HTTP, loopback by default): dead letters (list, show, redrive,
// discard), rejected messages, a dossier's trace, mapping status and reload, audit verification,
// metrics. Every change an operator makes is audited with the actor they name.
#pragma once

#include "hub/service/hub_service.hpp"

#include <functional>

namespace dh::service {

class AdminService final : public edge::RequestHandler {
 public:
  // `reload` reloads the mappings (each file on its own) and says what happened.
  AdminService(Context& ctx, std::function<Outcome<std::string>()> reload);
  boost::asio::awaitable<edge::Response> handle(edge::Request request, const edge::Peer& peer) override;

 private:
  Context& ctx_;
  std::function<Outcome<std::string>()> reload_;
};

}  // namespace dh::service
