// Routing: which post office serves a dossier, from the route table in mappings/routes.yaml.
// Most specific match wins (ward, then legacy district, then province), with an explicit
// default; an unknown unit goes to the default and is flagged, never dropped.
//
// Pre-2025 ward codes (the 2025 reform merged wards and removed districts) are normalised to the
// current ward where the old ward merged whole into one new ward: the address keeps the code it
// was given and gains current_ward_code. Where the old ward was split between new wards, the
// address is flagged for a person ("split_ward") and routed by what else it has.
#pragma once

#include "hub/dossier/dossier.hpp"

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace dh::router {

// Every error names the file, line and column (or the CSV line).
class RouteError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Route {
  std::string post_office;  // the postal core's code for the office that serves the unit
  std::string endpoint;     // the postal endpoint (connector) name from the hub config
};

struct RouteDecision {
  Route route;
  std::string matched;             // "ward:26740", "district:760", "province:79", "default"
  std::vector<std::string> flags;  // "unknown_unit", "split_ward", "legacy_ward_normalised", "no_address"
};

class RouteTable {
 public:
  // Loads routes.yaml and the unit catalogue it names (the 2025 merger data in mappings/units/,
  // sources in its SOURCES.md). Throws RouteError.
  static RouteTable load(const std::filesystem::path& routes_yaml);

  // Normalises the address (adds current_ward_code/current_ward_name for a whole merger; never
  // changes what was given) and decides the route.
  RouteDecision route(Address& address) const;

  // The address a dossier is routed by: where the post goes to the citizen (delivery_address of a
  // result_delivery, pickup_address of a dossier_pickup).
  static Address* citizen_address(Dossier& d) noexcept;

  [[nodiscard]] std::size_t size() const noexcept;

 private:
  struct Merge {
    std::vector<std::string> new_wards;  // one: whole merger; several: split
    std::string district;                // the old ward's district and province (routing a split ward)
    std::string province;
  };
  struct OldDistrict {
    std::string province;
    std::string whole_into;  // the current unit the whole district became (Côn Đảo), or empty
  };
  std::map<std::string, Route, std::less<>> wards_, districts_, provinces_;
  Route default_;
  std::map<std::string, Merge, std::less<>> old_wards_;                 // old (pre-2025) ward code -> new ward(s)
  std::map<std::string, std::string, std::less<>> current_ward_names_;  // new ward code -> name

  // The rest of the unit catalogue: what routing falls back on and what makes a code known.
  std::map<std::string, std::string, std::less<>> current_ward_provinces_;  // new ward code -> province
  std::map<std::string, OldDistrict, std::less<>> old_districts_;           // old district code -> ...
  std::set<std::string, std::less<>> current_provinces_;                    // provinces of the current wards
  std::set<std::string, std::less<>> legacy_provinces_;                     // provinces only before the reform (74, 77)
};

}  // namespace dh::router
