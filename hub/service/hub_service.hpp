// The hub's request handling (docs/openapi.yaml): what each endpoint does, apart from
// sockets. Agencies post messages and read their dossiers; the postal core posts status events;
// everyone can ask /healthz, /readyz and /metrics. A message is answered 202 only after the store
// has committed it durably with its dossiers and intake orders.
#pragma once

#include "hub/config/hub_config.hpp"
#include "hub/edge/http_server.hpp"
#include "hub/observability/metrics.hpp"
#include "hub/router/route_table.hpp"
#include "hub/service/partners.hpp"
#include "hub/service/rate_limiter.hpp"
#include "hub/store/store.hpp"

#include <atomic>
#include <functional>
#include <memory>

namespace dh::service {

using Clock = std::function<std::chrono::system_clock::time_point()>;

// Everything the handlers share. Mappings are swapped whole on reload.
struct Context {
  const config::HubConfig& config;
  store::Store& store;
  const router::RouteTable& routes;
  obs::Registry& metrics;
  std::atomic<std::shared_ptr<const MappingSet>> mappings;
  Clock clock;

  Context(const config::HubConfig& c, store::Store& s, const router::RouteTable& r, obs::Registry& m,
          std::shared_ptr<const MappingSet> maps, Clock clk)
      : config(c), store(s), routes(r), metrics(m), mappings(std::move(maps)), clock(std::move(clk)) {}
};

// The partner-facing listener (mTLS).
class HubService final : public edge::RequestHandler {
 public:
  explicit HubService(Context& ctx);
  boost::asio::awaitable<edge::Response> handle(edge::Request request, const edge::Peer& peer) override;

 private:
  boost::asio::awaitable<edge::Response> post_message(edge::Request& req, const Partner& partner,
                                                      const std::string& request_id);
  boost::asio::awaitable<edge::Response> post_events(edge::Request& req, const std::string& request_id);
  edge::Response get_dossier(const edge::Request& req, const Partner& partner, std::string_view hub_id);
  edge::Response find_dossiers(const edge::Request& req, const Partner& partner, std::string_view query);

  Context& ctx_;
  RateLimiter limiter_;
  std::atomic<std::size_t> pending_writes_{0};  // accepts waiting for the store
};

// Helpers shared with the admin listener.
edge::Response json_response(boost::beast::http::status status, std::string body, unsigned version = 11);
edge::Response problem_response(int status, std::string_view type, std::string_view title, const FieldErrors& errors,
                                unsigned version = 11);
std::string stored_dossier_json(const store::StoredDossier& d, const std::vector<store::StatusEvent>* history);

}  // namespace dh::service
