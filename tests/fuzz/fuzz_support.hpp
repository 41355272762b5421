// Shared by the adapter fuzz targets: real mappings, loaded once, and the invariants every
// translation must keep whatever the input.
#pragma once

#include "adapters/registry.hpp"
#include "hub/mapping/mapping.hpp"

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace dh::fuzz {

inline std::vector<mapping::Mapping> load_mappings(std::initializer_list<const char*> agencies) {
  std::vector<mapping::Mapping> v;
  for (const char* agency : agencies)
    v.push_back(
        mapping::Mapping::load(std::string(DH_SOURCE_DIR "/mappings/") + agency + ".yaml", adapters::builtin()));
  return v;
}

// Any input gives dossiers or a problem that says why: never a crash, a leak, a hang or UB.
inline void translate_all(const std::vector<mapping::Mapping>& mappings, std::string_view body) {
  for (const auto& m : mappings) {
    auto r = m.translate(body);
    if (r && r->dossiers.empty()) __builtin_trap();
    if (!r && r.error().errors.empty()) __builtin_trap();
  }
}

}  // namespace dh::fuzz
