// Where queued outbox entries are sent: the configuration and the mappings of the moment, not the
// URL an entry was queued with.
#include "hub/service/destination.hpp"

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

std::string text_of(const std::string& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE("destination: an order goes to its endpoint as configured now", "[destination]") {
  const auto config = two_endpoints();
  const auto maps = service::load_mappings(DH_SOURCE_DIR "/mappings", 1);
  const auto to = service::current_destination(queued(store::OutboxKind::postal_order, "postal"), config, *maps);
  REQUIRE(to);
  CHECK(to->url == "https://postal-new.test:9443/v1/orders");
  CHECK(to->headers.empty());
  // Not ours to say: an endpoint gone from the configuration keeps the URL it was queued with,
  // and an AMQP endpoint's orders go through its own connector.
  CHECK_FALSE(service::current_destination(queued(store::OutboxKind::postal_order, "removed"), config, *maps));
  CHECK_FALSE(service::current_destination(queued(store::OutboxKind::postal_order, "postal-queue"), config, *maps));
}

TEST_CASE("destination: a callback goes to its agency's mapping as loaded now, or to the redirect", "[destination]") {
  auto config = two_endpoints();
  const auto maps = service::load_mappings(DH_SOURCE_DIR "/mappings", 1);
  const auto callback = queued(store::OutboxKind::agency_callback, "hcm-immigration");
  auto to = service::current_destination(callback, config, *maps);
  REQUIRE(to);
  CHECK(to->url == kImmigrationCallback);
  CHECK(to->headers.empty());
  CHECK_FALSE(
      service::current_destination(queued(store::OutboxKind::agency_callback, "no-such-agency"), config, *maps));

  config.callback_redirect = "https://127.0.0.1:9443/agency-callbacks";
  to = service::current_destination(callback, config, *maps);
  REQUIRE(to);
  CHECK(to->url == "https://127.0.0.1:9443/agency-callbacks/hcm-immigration");
}

TEST_CASE("destination: a SOAP 1.1 agency's callbacks carry its SOAPAction", "[destination]") {
  const auto maps = service::load_mappings(DH_SOURCE_DIR "/mappings", 1);
  const auto to = service::current_destination(queued(store::OutboxKind::agency_callback, "hcm-social-insurance"),
                                               two_endpoints(), *maps);
  REQUIRE(to);
  CHECK(to->headers == std::vector<std::pair<std::string, std::string>>{
                           {"SOAPAction", "\"urn:vn:bhxh:hcm:bcci:1#CapNhatTrangThaiPhat\""}});
}

TEST_CASE("callback_url: empty for a mapping without a callback section", "[destination]") {
  const std::string file = DH_SOURCE_DIR "/mappings/hcm-immigration.yaml";
  const std::string yaml = text_of(file);
  const auto at = yaml.find("\ncallback:");
  REQUIRE(at != std::string::npos);
  const auto with = mapping::Mapping::load_text(yaml, file, adapters::builtin());
  const auto without = mapping::Mapping::load_text(yaml.substr(0, at + 1), file, adapters::builtin());
  config::HubConfig config;
  CHECK(service::callback_url(config, with) == kImmigrationCallback);
  CHECK(service::callback_url(config, without).empty());
  config.callback_redirect = "https://127.0.0.1:9443/agency-callbacks";
  CHECK(service::callback_url(config, without).empty());
  CHECK(without.callback_headers().empty());
}
