// The intake order the hub places with the postal core for one dossier (docs/architecture.md,
// "Postal intake contract"): POST {postal}/v1/orders with Idempotency-Key: <order_id>. Pure.
#pragma once

#include "hub/dossier/dossier.hpp"

#include <string>

namespace dh::service {

// JSON: order_id, service, dossier_code, agency_organ_id, post_office, sender and receiver
// (name, phone, address), items, cod_amount, due_at, note. For a result delivery the agency
// sends (from its counter, the pickup address) to the recipient (or the applicant) at the
// delivery address; for a dossier pickup the citizen sends to the agency.
std::string intake_order_json(const Dossier& d, const std::string& order_id, const std::string& post_office);

}  // namespace dh::service
