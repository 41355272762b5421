// A value read from a message or produced by a transform, before it is stored in a dossier field.
#pragma once

#include "hub/common/time.hpp"

#include <cstdint>
#include <string>
#include <variant>

namespace dh::mapping {

// monostate = no value (missing, null, or blank text).
using Value = std::variant<std::monostate, std::string, std::int64_t, double, bool, Timestamp>;

inline bool has_value(const Value& v) noexcept {
  return !std::holds_alternative<std::monostate>(v);
}

// "text", "integer", ... for error messages.
const char* type_name(const Value& v) noexcept;

}  // namespace dh::mapping
