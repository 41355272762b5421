#include "hub/service/partners.hpp"

#include "adapters/registry.hpp"

#include <algorithm>

namespace dh::service {

std::shared_ptr<const MappingSet> load_mappings(const std::filesystem::path& dir, std::uint64_t generation) {
  auto set = std::make_shared<MappingSet>();
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.is_regular_file() && e.path().extension() == ".yaml" && e.path().filename() != "routes.yaml")
      files.push_back(e.path());
  }
  if (ec) throw mapping::MappingError(dir.string() + ": " + ec.message());
  std::sort(files.begin(), files.end());
  std::string errors;
  for (const auto& f : files) {
    try {
      set->mappings.push_back(mapping::Mapping::load(f, adapters::builtin()));
    } catch (const mapping::MappingError& e) {
      errors += std::string(errors.empty() ? "" : "\n") + e.what();
    }
  }
  if (!errors.empty()) throw mapping::MappingError(errors);
  if (set->mappings.empty()) throw mapping::MappingError(dir.string() + ": no mappings (*.yaml)");
  for (std::size_t i = 0; i < set->mappings.size(); ++i)
    for (std::size_t j = i + 1; j < set->mappings.size(); ++j)
      if (edge::overlaps(set->mappings[i].identity(), set->mappings[j].identity()))
        throw mapping::MappingError("a certificate could belong to both " + set->mappings[i].agency_id() + " and " +
                                    set->mappings[j].agency_id() + ": each certificate must map to one partner");
  for (const auto& m : set->mappings) set->by_agency.emplace(m.agency_id(), &m);
  set->loaded_at = std::chrono::system_clock::now();
  set->generation = generation;
  return set;
}

std::optional<Partner> identify(const edge::CertificateFacts& cert, const MappingSet& set,
                                const mapping::Identity& postal) {
  if (edge::matches(postal, cert)) return Partner{Partner::Kind::postal, "postal", nullptr};
  for (const auto& m : set.mappings)
    if (edge::matches(m.identity(), cert)) return Partner{Partner::Kind::agency, m.agency_id(), &m};
  return std::nullopt;
}

}  // namespace dh::service
