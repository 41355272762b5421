#include "hub/service/partners.hpp"

#include "adapters/registry.hpp"

#include <boost/json.hpp>

#include <algorithm>

namespace dh::service {

namespace {

struct Candidate {
  std::filesystem::path file;
  std::shared_ptr<const mapping::Mapping> mapping;  // this load's version, or the earlier one it keeps
  bool fresh = true;                                // compiled by this load
};

std::shared_ptr<const mapping::Mapping> earlier(const MappingSet* previous, const std::filesystem::path& file) {
  if (!previous) return nullptr;
  for (const auto& m : previous->mappings)
    if (m->file() == file) return m;
  return nullptr;
}

}  // namespace

std::shared_ptr<const MappingSet> load_mappings(const std::filesystem::path& dir, std::uint64_t generation,
                                                const MappingSet* previous) {
  auto set = std::make_shared<MappingSet>();
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.is_regular_file() && e.path().extension() == ".yaml" && e.path().filename() != "routes.yaml")
      files.push_back(e.path());
  }
  if (ec) throw mapping::MappingError(dir.string() + ": " + ec.message());
  std::sort(files.begin(), files.end());

  // A refused file falls back to its earlier version, if it had one, or is left out.
  std::vector<Candidate> candidates;
  auto refuse = [&](Candidate& c, std::string reason) -> bool {
    auto old = earlier(previous, c.file);
    set->refused.push_back({c.file.filename().string(), std::move(reason), old != nullptr});
    c.mapping = std::move(old);
    c.fresh = false;
    return c.mapping != nullptr;
  };
  for (const auto& f : files) {
    Candidate c{f, nullptr, true};
    try {
      c.mapping = std::make_shared<const mapping::Mapping>(mapping::Mapping::load(f, adapters::builtin()));
    } catch (const mapping::MappingError& e) {
      if (!refuse(c, e.what())) continue;
    }
    candidates.push_back(std::move(c));
  }
  // Two mappings that could claim one certificate: the versions of this load give way (the earlier
  // set had no such pair), until no pair is left; each step retires at least one fresh version.
  for (bool again = true; again;) {
    again = false;
    for (std::size_t i = 0; i < candidates.size() && !again; ++i)
      for (std::size_t j = i + 1; j < candidates.size() && !again; ++j) {
        auto& a = candidates[i];
        auto& b = candidates[j];
        if (!a.mapping || !b.mapping || !edge::overlaps(a.mapping->identity(), b.mapping->identity())) continue;
        const std::string why = "a certificate could belong to both " + a.mapping->agency_id() + " and " +
                                b.mapping->agency_id() + ": each certificate must map to one partner";
        if (a.fresh) refuse(a, a.file.string() + ": " + why);
        if (b.fresh) refuse(b, b.file.string() + ": " + why);
        if (!a.fresh && !b.fresh && a.mapping && b.mapping) {
          // Two earlier versions that overlap cannot come from a set that loaded; drop the later.
          b.mapping = nullptr;
        }
        again = true;
      }
  }
  for (auto& c : candidates)
    if (c.mapping) set->mappings.push_back(std::move(c.mapping));
  if (set->mappings.empty()) {
    std::string errors = dir.string() + ": no mapping loaded";
    for (const auto& r : set->refused) errors += "\n" + r.reason;
    throw mapping::MappingError(errors);
  }
  for (const auto& m : set->mappings) set->by_agency.emplace(m->agency_id(), m.get());
  set->loaded_at = std::chrono::system_clock::now();
  set->generation = generation;
  return set;
}

boost::json::array to_json(const std::vector<MappingRefusal>& refused) {
  boost::json::array out;
  for (const auto& r : refused)
    out.push_back(boost::json::object{{"file", r.file}, {"reason", r.reason}, {"kept", r.kept}});
  return out;
}

std::optional<Partner> identify(const edge::CertificateFacts& cert, const MappingSet& set,
                                const mapping::Identity& postal) {
  if (edge::matches(postal, cert)) return Partner{Partner::Kind::postal, "postal", nullptr};
  for (const auto& m : set.mappings)
    if (edge::matches(m->identity(), cert)) return Partner{Partner::Kind::agency, m->agency_id(), m.get()};
  return std::nullopt;
}

}  // namespace dh::service
