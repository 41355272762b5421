// The `json` adapter kind: Boost.JSON parsing with duplicate-key, depth and number-range checks,
// JSON Pointer (RFC 6901) paths, optional JSON Schema (draft 7) validation with valijson.
#pragma once

#include "hub/mapping/format.hpp"

namespace dh::adapters {

std::unique_ptr<mapping::AdapterKind> make_json_adapter();

}  // namespace dh::adapters
