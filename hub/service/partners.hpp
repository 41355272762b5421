// Who is calling: the loaded agency mappings and the postal core, each matched by its client
// certificate. A MappingSet is immutable once loaded; a reload builds a new one (all mappings
// compile, or none is swapped) and requests in flight keep the one they started with.
#pragma once

#include "hub/edge/client_identity.hpp"
#include "hub/mapping/mapping.hpp"

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace dh::service {

struct MappingSet {
  std::vector<mapping::Mapping> mappings;
  std::map<std::string, const mapping::Mapping*, std::less<>> by_agency;
  std::chrono::system_clock::time_point loaded_at;
  std::uint64_t generation = 0;

  [[nodiscard]] const mapping::Mapping* find(std::string_view agency) const {
    auto it = by_agency.find(agency);
    return it == by_agency.end() ? nullptr : it->second;
  }
};

// Loads every mapping in `dir` (routes.yaml excepted). Throws mapping::MappingError listing every
// mapping that failed, and when two mappings could claim one certificate.
std::shared_ptr<const MappingSet> load_mappings(const std::filesystem::path& dir, std::uint64_t generation);

struct Partner {
  enum class Kind { agency, postal } kind;
  std::string id;                             // agency id, or "postal"
  const mapping::Mapping* mapping = nullptr;  // agencies
};

// nullopt when no partner matches; the certificate must already be trusted.
std::optional<Partner> identify(const edge::CertificateFacts& cert, const MappingSet& set,
                                const mapping::Identity& postal);

}  // namespace dh::service
