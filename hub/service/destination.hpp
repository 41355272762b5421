// Where and how an outbox entry is sent. The address is the partner's configuration, not part of
// the work: an entry records the URL of the moment it was queued, and is sent where the
// configuration says now, so that moving a postal endpoint or an agency's callback (config,
// mapping reload) takes the queued entries along. Pure.
#pragma once

#include "hub/config/hub_config.hpp"
#include "hub/mapping/mapping.hpp"
#include "hub/service/partners.hpp"
#include "hub/store/store.hpp"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace dh::service {

struct Destination {
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // besides Content-Type and Idempotency-Key
};

// An agency's status callbacks: `<callbacks.redirect>/<agency id>` when the configuration
// redirects them (test and demo), else the mapping's `callback.url`; "" without a callback section.
std::string callback_url(const config::HubConfig& config, const mapping::Mapping& mapping);

// Where to send `entry` now: an intake order to its endpoint (by its name, the entry's target)
// when that is configured and on HTTPS; a callback to its agency, with the headers its mapping
// asks for (SOAPAction), when the mapping is loaded. nullopt when the configuration no longer
// knows the target: the entry goes to the URL it was queued with.
std::optional<Destination> current_destination(const store::OutboxEntry& entry, const config::HubConfig& config,
                                               const MappingSet& mappings);

}  // namespace dh::service
