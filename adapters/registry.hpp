// The adapter kinds built into this hub. Adding a kind: a folder adapters/<kind>/ and one line
// in registry.cpp.
#pragma once

#include "hub/mapping/format.hpp"

namespace dh::adapters {

// Every built-in kind, ready for Mapping::load. Built once; shared and immutable afterwards.
const mapping::AdapterRegistry& builtin();

}  // namespace dh::adapters
