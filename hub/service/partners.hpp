// Who is calling: the loaded agency mappings and the postal core, each matched by its client
// certificate. A MappingSet is immutable once loaded; a reload builds a new one and requests in
// flight keep the one they started with. Each mapping file compiles on its own: one that fails is
// refused with its reason and, on a reload, the agency keeps the version it ran before, so one bad
// file never stops the others from loading.
#pragma once

#include "hub/edge/client_identity.hpp"
#include "hub/mapping/mapping.hpp"

#include <boost/json/array.hpp>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace dh::service {

// A mapping file a load did not take.
struct MappingRefusal {
  std::string file;    // the file's name in the mappings folder
  std::string reason;  // "file:line:column: why", as the loader says it
  bool kept = false;   // the agency runs the version loaded before
};

struct MappingSet {
  std::vector<std::shared_ptr<const mapping::Mapping>> mappings;  // in file-name order
  std::map<std::string, const mapping::Mapping*, std::less<>> by_agency;
  std::vector<MappingRefusal> refused;  // what this load refused
  std::chrono::system_clock::time_point loaded_at;
  std::uint64_t generation = 0;

  [[nodiscard]] const mapping::Mapping* find(std::string_view agency) const {
    auto it = by_agency.find(agency);
    return it == by_agency.end() ? nullptr : it->second;
  }
};

// Loads every mapping in `dir` (routes.yaml excepted), each on its own. A file that does not
// compile, or whose certificate identity could also be another mapping's, is refused; with a
// `previous` set (a reload), a refused agency keeps its version from there. Throws
// mapping::MappingError only when the folder cannot be read or no mapping at all is left.
std::shared_ptr<const MappingSet> load_mappings(const std::filesystem::path& dir, std::uint64_t generation,
                                                const MappingSet* previous = nullptr);

// [{"file", "reason", "kept"}], as the admin listener shows them.
boost::json::array to_json(const std::vector<MappingRefusal>& refused);

struct Partner {
  enum class Kind { agency, postal } kind;
  std::string id;                             // agency id, or "postal"
  const mapping::Mapping* mapping = nullptr;  // agencies
};

// nullopt when no partner matches; the certificate must already be trusted.
std::optional<Partner> identify(const edge::CertificateFacts& cert, const MappingSet& set,
                                const mapping::Identity& postal);

}  // namespace dh::service
