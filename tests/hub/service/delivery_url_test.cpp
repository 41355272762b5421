// Where queued outbox entries are sent: the configuration and the mappings of the moment, not the
// URL an entry was queued with.
#include "hub/service/delivery_url.hpp"

#include "adapters/registry.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

using namespace dh;

namespace {

const std::string kImmigrationCallback =
    "https://xuatnhapcanh.congan.hochiminhcity.gov.vn/api/bcci/v1/trang-thai-buu-gui";

store::OutboxEntry queued(store::OutboxKind kind, std::string target) {
  store::OutboxEntry e;
  e.id = "E1";
  e.kind = kind;
  e.target = std::move(target);
  e.url = "https://where-it-was.test/v1/orders";
  return e;
}

config::HubConfig two_endpoints() {
  config::HubConfig c;
  config::Endpoint https;
  https.url = "https://postal-new.test:9443";
  c.endpoints.emplace("postal", https);
  config::Endpoint amqp;
  amqp.url = "amqp://guest:guest@127.0.0.1:5672/%2f";
  amqp.kind = config::EndpointKind::amqp;
  c.endpoints.emplace("postal-queue", amqp);
  return c;
}

}  // namespace

TEST_CASE("current_url: an order goes to its endpoint as configured now", "[delivery_url]") {
  const auto config = two_endpoints();
  const auto maps = service::load_mappings(DH_SOURCE_DIR "/mappings", 1);
  CHECK(service::current_url(queued(store::OutboxKind::postal_order, "postal"), config, *maps) ==
        "https://postal-new.test:9443/v1/orders");
  // Not ours to send: an endpoint gone from the configuration keeps the URL it was queued with,
  // and an AMQP endpoint's orders go through its own connector.
  CHECK(service::current_url(queued(store::OutboxKind::postal_order, "removed"), config, *maps).empty());
  CHECK(service::current_url(queued(store::OutboxKind::postal_order, "postal-queue"), config, *maps).empty());
}

TEST_CASE("current_url: a callback goes to its agency's mapping as loaded now, or to the redirect", "[delivery_url]") {
  auto config = two_endpoints();
  const auto maps = service::load_mappings(DH_SOURCE_DIR "/mappings", 1);
  const auto callback = queued(store::OutboxKind::agency_callback, "hcm-immigration");
  CHECK(service::current_url(callback, config, *maps) == kImmigrationCallback);
  CHECK(service::current_url(queued(store::OutboxKind::agency_callback, "no-such-agency"), config, *maps).empty());

  config.callback_redirect = "https://127.0.0.1:9443/agency-callbacks";
  CHECK(service::current_url(callback, config, *maps) == "https://127.0.0.1:9443/agency-callbacks/hcm-immigration");
}

TEST_CASE("callback_url: empty for a mapping without a callback section", "[delivery_url]") {
  const std::string file = DH_SOURCE_DIR "/mappings/hcm-immigration.yaml";
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  const std::string yaml = text.str();
  const auto at = yaml.find("\ncallback:");
  REQUIRE(at != std::string::npos);
  const auto with = mapping::Mapping::load_text(yaml, file, adapters::builtin());
  const auto without = mapping::Mapping::load_text(yaml.substr(0, at + 1), file, adapters::builtin());
  config::HubConfig config;
  CHECK(service::callback_url(config, with) == kImmigrationCallback);
  CHECK(service::callback_url(config, without).empty());
  config.callback_redirect = "https://127.0.0.1:9443/agency-callbacks";
  CHECK(service::callback_url(config, without).empty());
}
