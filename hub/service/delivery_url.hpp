// Where an outbox entry is sent. The URL is the partner's configuration, not part of the work: an
// entry records the URL of the moment it was queued, and is sent to the URL configured now, so
// that moving a postal endpoint or an agency's callback (config, mapping reload) takes the queued
// entries along. Pure.
#pragma once

#include "hub/config/hub_config.hpp"
#include "hub/mapping/mapping.hpp"
#include "hub/service/partners.hpp"
#include "hub/store/store.hpp"

#include <string>

namespace dh::service {

// An agency's status callbacks: `<callbacks.redirect>/<agency id>` when the configuration
// redirects them (test and demo), else the mapping's `callback.url`; "" without a callback section.
std::string callback_url(const config::HubConfig& config, const mapping::Mapping& mapping);

// The URL to send `entry` to now: an intake order's endpoint (by its name, the entry's target)
// when it is configured and on HTTPS; a callback's agency when its mapping is loaded. "" when the
// configuration no longer knows the target: the entry goes to the URL it was queued with.
std::string current_url(const store::OutboxEntry& entry, const config::HubConfig& config, const MappingSet& mappings);

}  // namespace dh::service
