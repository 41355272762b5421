// What an agency is told when one of its dossiers changes status: the callback its mapping renders
// for the new status, as an outbox entry committed with the move (store::CallbackMaker), whether
// the move came from a postal event or from the postal core taking the order (`ordered`).
#pragma once

#include "hub/service/hub_service.hpp"
#include "hub/store/store.hpp"

namespace dh::service {

// Renders with the mappings loaded at the time of each move (a reload applies to the next one).
// No entry when the agency's mapping is not loaded or does not report the status; a callback that
// cannot be rendered is logged (without personal data) and skipped, never failing the move.
store::CallbackMaker status_callbacks(const Context& ctx);

}  // namespace dh::service
