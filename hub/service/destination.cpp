#include "hub/service/destination.hpp"

namespace dh::service {

std::string callback_url(const config::HubConfig& config, const mapping::Mapping& mapping) {
  if (!mapping.has_callback()) return {};
  if (!config.callback_redirect.empty()) return config.callback_redirect + "/" + mapping.agency_id();
  return std::string(mapping.callback_url());
}

std::optional<Destination> current_destination(const store::OutboxEntry& entry, const config::HubConfig& config,
                                               const MappingSet& mappings) {
  switch (entry.kind) {
    case store::OutboxKind::postal_order: {
      const auto it = config.endpoints.find(entry.target);
      if (it == config.endpoints.end() || it->second.kind != config::EndpointKind::https) return std::nullopt;
      return Destination{config::order_url(it->second), {}};
    }
    case store::OutboxKind::agency_callback: {
      const mapping::Mapping* m = mappings.find(entry.target);
      if (!m || !m->has_callback()) return std::nullopt;
      return Destination{callback_url(config, *m), m->callback_headers()};
    }
  }
  return std::nullopt;
}

}  // namespace dh::service
