// The canonical dossier statuses and the one rule that moves them (docs/architecture.md): a status never
// moves backwards; delivery_failed and out_for_delivery may alternate (a new attempt); delivered,
// returned and cancelled are final; dead_lettered is the hub giving up, left only by an operator's
// redrive. Every event is kept in the history whether or not it moves the status.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dh {

enum class Status {
  accepted,
  ordered,
  picked_up,
  in_transit,
  out_for_delivery,
  delivery_failed,
  delivered,
  returned,
  cancelled,
  dead_lettered,
};

std::string_view to_string(Status s) noexcept;
std::optional<Status> parse_status(std::string_view s) noexcept;

// Every status name, in life-cycle order, comma-separated: for errors that list what is allowed.
const std::string& status_names();

// Whether an event reporting `to` moves a dossier that is now `from`. False for late, repeated
// and out-of-order events (which are still recorded in the history).
bool moves(Status from, Status to) noexcept;

// Final: nothing moves it any more (but an operator's redrive of a dead letter).
bool is_final(Status s) noexcept;

}  // namespace dh
