#include "hub/dossier/status.hpp"

#include <array>
#include <utility>

namespace dh {
namespace {

constexpr std::array<std::pair<std::string_view, Status>, 10> kNames{{
    {"accepted", Status::accepted},
    {"ordered", Status::ordered},
    {"picked_up", Status::picked_up},
    {"in_transit", Status::in_transit},
    {"out_for_delivery", Status::out_for_delivery},
    {"delivery_failed", Status::delivery_failed},
    {"delivered", Status::delivered},
    {"returned", Status::returned},
    {"cancelled", Status::cancelled},
    {"dead_lettered", Status::dead_lettered},
}};

// Progress along the way to the citizen. delivery_failed shares out_for_delivery's rank: the two
// alternate while the postman tries again.
int rank(Status s) noexcept {
  switch (s) {
    case Status::accepted:
      return 0;
    case Status::ordered:
      return 1;
    case Status::picked_up:
      return 2;
    case Status::in_transit:
      return 3;
    case Status::out_for_delivery:
    case Status::delivery_failed:
      return 4;
    case Status::delivered:
    case Status::returned:
    case Status::cancelled:
      return 5;
    case Status::dead_lettered:
      return 0;
  }
  return 0;
}

}  // namespace

std::string_view to_string(Status s) noexcept {
  for (const auto& [name, st] : kNames)
    if (st == s) return name;
  return "accepted";
}

std::optional<Status> parse_status(std::string_view s) noexcept {
  for (const auto& [name, st] : kNames)
    if (name == s) return st;
  return std::nullopt;
}

const std::string& status_names() {
  static const std::string names = [] {
    std::string out;
    for (const auto& [name, st] : kNames) out += (out.empty() ? "" : ", ") + std::string(name);
    return out;
  }();
  return names;
}

bool is_final(Status s) noexcept {
  return s == Status::delivered || s == Status::returned || s == Status::cancelled;
}

bool moves(Status from, Status to) noexcept {
  if (from == to || is_final(from)) return false;
  if (from == Status::dead_lettered) return false;  // only a redrive leaves it
  if (to == Status::dead_lettered) return true;     // the hub gave up: always shown
  if (to == Status::accepted) return false;
  if ((from == Status::out_for_delivery && to == Status::delivery_failed) ||
      (from == Status::delivery_failed && to == Status::out_for_delivery))
    return true;
  return rank(to) > rank(from);
}

}  // namespace dh
