// RouteTable: loads mappings/routes.yaml and the unit catalogue it names (the 2025 merger data,
// mappings/units/hcm-units-2025-mapping.csv), normalises pre-2025 ward codes and routes
// (docs/routing.md). Loading throws RouteError naming file:line:column; routing never throws for
// bad input and never drops an address: the worst case is the default route with a flag.
#include "hub/router/route_table.hpp"

#include "hub/common/text.hpp"
#include "hub/common/yaml_error.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string_view>
#include <utility>

namespace dh::router {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kFormat = "dossier-hub/routes/v1";
constexpr std::size_t kMaxRoutesBytes = 4 * 1024 * 1024;
constexpr std::size_t kMaxCatalogueBytes = 16 * 1024 * 1024;

// ------------------------------------------------------------------ errors and small helpers

[[noreturn]] void fail_at(const fs::path& file, std::size_t line, std::size_t column, const std::string& msg) {
  std::ostringstream os;
  os << file.string() << ':' << line << ':' << column << ": " << msg;
  throw RouteError(os.str());
}

std::optional<std::string> read_file(const fs::path& file, std::size_t limit, bool& too_large) {
  too_large = false;
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::string content;
  std::array<char, 65536> buf{};
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    content.append(buf.data(), static_cast<std::size_t>(in.gcount()));
    if (content.size() > limit) {
      too_large = true;
      return std::nullopt;
    }
  }
  if (in.bad()) return std::nullopt;
  return content;
}

bool all_digits(std::string_view s, std::size_t n) noexcept {
  return s.size() == n && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// ------------------------------------------------------------------ CSV (RFC 4180)

struct CsvField {
  std::string text;
  std::size_t line = 0;
  std::size_t column = 0;
};
using CsvRecord = std::vector<CsvField>;

// Header row plus records; quoted fields ("" for a quote, commas and line breaks inside), LF or
// CRLF line ends, an optional UTF-8 byte order mark. The input must be valid UTF-8.
std::vector<CsvRecord> parse_csv(std::string_view s, const fs::path& file) {
  std::vector<CsvRecord> records;
  std::size_t i = 0, line = 1, column = 1;
  if (s.substr(0, 3) == "\xEF\xBB\xBF") i = 3;
  const auto step = [&] {
    const char c = s[i++];
    if (c == '\n') {
      ++line;
      column = 1;
    } else if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {
      ++column;
    }
  };
  const auto at_field_end = [&] { return i >= s.size() || s[i] == ',' || s[i] == '\n' || s[i] == '\r'; };
  while (i < s.size()) {
    CsvRecord record;
    for (;;) {
      CsvField f{{}, line, column};
      if (i < s.size() && s[i] == '"') {
        step();
        for (;;) {
          if (i >= s.size()) fail_at(file, f.line, f.column, "a quoted field is not closed");
          if (s[i] == '"') {
            if (i + 1 < s.size() && s[i + 1] == '"') {
              f.text += '"';
              step();
              step();
              continue;
            }
            step();
            break;
          }
          f.text += s[i];
          step();
        }
        if (!at_field_end()) fail_at(file, line, column, "text after the closing quote of a field");
      } else {
        while (!at_field_end()) {
          if (s[i] == '"') fail_at(file, line, column, "a quote inside an unquoted field (quote the whole field)");
          f.text += s[i];
          step();
        }
      }
      record.push_back(std::move(f));
      if (i < s.size() && s[i] == ',') {
        step();
        continue;
      }
      break;
    }
    if (i < s.size() && s[i] == '\r') {
      if (i + 1 >= s.size() || s[i + 1] != '\n')
        fail_at(file, line, column, "a carriage return that does not end a line");
      ++i;  // the CR of a CRLF takes no column
    }
    if (i < s.size()) step();  // the LF
    records.push_back(std::move(record));
  }
  return records;
}

// ------------------------------------------------------------------ the unit catalogue

struct CatalogueWard {  // a current (2025) ward
  std::string name;
  std::string province;
};
struct CatalogueOld {  // an old (pre-2025) unit: a ward, or a district that had no wards
  std::set<std::string> new_wards;
  bool full = false;
  bool partial = false;
  std::string district;
  std::string province;
  std::size_t line = 0;  // its first row
};

struct Catalogue {
  std::map<std::string, CatalogueWard, std::less<>> wards;
  std::map<std::string, CatalogueOld, std::less<>> old_wards;
  std::map<std::string, CatalogueOld, std::less<>> old_district_units;  // rows with no old ward (Côn Đảo)
  std::map<std::string, std::string, std::less<>> old_districts;        // code -> province
  std::set<std::string> old_provinces;
};

constexpr std::array<std::string_view, 7> kColumns = {
    "province_code", "ward_code", "ward_name", "old_province_code", "old_district_code", "old_ward_code", "merge_type"};
enum Col : std::size_t { kProvince, kWard, kWardName, kOldProvince, kOldDistrict, kOldWard, kMergeType };

// Reads the 2025 merger CSV (hcm-units-2025-mapping.csv: one row per new ward and old unit).
// Extra columns are allowed; the ones in kColumns are required.
Catalogue read_catalogue(const fs::path& file, std::string_view content) {
  if (auto bad = text::find_invalid_utf8(content)) {
    const auto [line, column] = text::line_column(content, *bad);
    fail_at(file, line, column, "not valid UTF-8");
  }
  const std::vector<CsvRecord> records = parse_csv(content, file);
  if (records.empty()) fail_at(file, 1, 1, "the unit catalogue is empty (it needs a header row)");
  const CsvRecord& header = records.front();
  std::array<std::size_t, kColumns.size()> index{};
  index.fill(header.size());
  for (std::size_t c = 0; c < header.size(); ++c) {
    for (std::size_t k = 0; k < kColumns.size(); ++k) {
      if (header[c].text != kColumns[k]) continue;
      if (index[k] != header.size())
        fail_at(file, header[c].line, header[c].column, "column '" + header[c].text + "' appears twice");
      index[k] = c;
    }
  }
  for (std::size_t k = 0; k < kColumns.size(); ++k)
    if (index[k] == header.size())
      fail_at(file, header.front().line, header.front().column,
              "the header has no column '" + std::string(kColumns[k]) + "'");
  if (records.size() == 1) fail_at(file, header.front().line, 1, "the unit catalogue has no rows");

  Catalogue cat;
  std::set<std::pair<std::string, std::string>> pairs;  // (new ward, old unit)
  for (std::size_t r = 1; r < records.size(); ++r) {
    const CsvRecord& row = records[r];
    const std::size_t line = row.front().line;
    if (row.size() != header.size())
      fail_at(file, line, 1,
              "the row has " + std::to_string(row.size()) + " fields, the header " + std::to_string(header.size()));
    const auto field = [&](Col c) -> const CsvField& { return row[index[c]]; };
    const auto code = [&](Col c, std::size_t digits, bool optional) -> const std::string& {
      const CsvField& f = field(c);
      if (!(optional && f.text.empty()) && !all_digits(f.text, digits))
        fail_at(file, f.line, f.column,
                std::string(kColumns[c]) + " must be " + std::to_string(digits) + " digits" +
                    (optional ? " or empty" : ""));
      return f.text;
    };
    const std::string& province = code(kProvince, 2, false);
    const std::string& ward = code(kWard, 5, false);
    const std::string& old_province = code(kOldProvince, 2, false);
    const std::string& old_district = code(kOldDistrict, 3, false);
    const std::string& old_ward = code(kOldWard, 5, true);
    const CsvField& name_field = field(kWardName);
    if (text::is_blank(name_field.text)) fail_at(file, name_field.line, name_field.column, "ward_name is empty");
    const std::string name = text::to_nfc(text::collapse_spaces(name_field.text));
    const CsvField& merge = field(kMergeType);
    if (merge.text != "full" && merge.text != "partial")
      fail_at(file, merge.line, merge.column, "merge_type must be full or partial");

    auto [w, new_ward] = cat.wards.try_emplace(ward, CatalogueWard{name, province});
    if (!new_ward && (w->second.name != name || w->second.province != province))
      fail_at(file, line, 1, "ward " + ward + " has another name or province on an earlier row");

    if (auto [d, added] = cat.old_districts.try_emplace(old_district, old_province);
        !added && d->second != old_province)
      fail_at(file, field(kOldDistrict).line, field(kOldDistrict).column,
              "old district " + old_district + " is in another province on an earlier row");
    cat.old_provinces.insert(old_province);

    const std::string key = old_ward.empty() ? "district " + old_district : old_ward;
    if (!pairs.emplace(ward, key).second)
      fail_at(file, line, 1, "ward " + ward + " and old unit " + key + " are paired on an earlier row");
    CatalogueOld& old = old_ward.empty() ? cat.old_district_units[old_district] : cat.old_wards[old_ward];
    if (old.line == 0) {
      old.line = line;
      old.district = old_district;
      old.province = old_province;
    } else if (old.district != old_district) {
      fail_at(file, field(kOldDistrict).line, field(kOldDistrict).column,
              "old ward " + old_ward + " is in another district on line " + std::to_string(old.line));
    }
    old.new_wards.insert(ward);
    (merge.text == "full" ? old.full : old.partial) = true;
  }

  // A whole merger goes to exactly one new ward; a split to two or more, every part partial.
  const auto check = [&](const std::string& key, const CatalogueOld& old) {
    if (old.full && old.partial) fail_at(file, old.line, 1, "old unit " + key + " is marked both full and partial");
    if (old.full && old.new_wards.size() != 1)
      fail_at(file, old.line, 1, "old unit " + key + " is marked full but went to several new wards");
    if (old.partial && old.new_wards.size() < 2)
      fail_at(file, old.line, 1, "old unit " + key + " is marked partial but went to only one new ward");
  };
  for (const auto& [key, old] : cat.old_wards) check(key, old);
  for (const auto& [key, old] : cat.old_district_units) check("district " + key, old);
  return cat;
}

// ------------------------------------------------------------------ routes.yaml

class Loader {
 public:
  explicit Loader(fs::path file) : file_(std::move(file)) {}

  [[noreturn]] void fail(const YAML::Mark& m, const std::string& msg) const {
    if (m.is_null()) fail_at(file_, 1, 1, msg);
    fail_at(file_, static_cast<std::size_t>(m.line) + 1, static_cast<std::size_t>(m.column) + 1, msg);
  }
  [[noreturn]] void fail(const YAML::Node& n, const std::string& msg) const { fail(n.Mark(), msg); }

  YAML::Node parse(const std::string& content) const {
    if (auto bad = text::find_invalid_utf8(content)) {
      const auto [line, column] = text::line_column(content, *bad);
      fail_at(file_, line, column, "not valid UTF-8");
    }
    try {
      return YAML::Load(content);
    } catch (const YAML::Exception& e) {
      const auto why = explain_yaml_error(content, e);
      fail_at(file_, why.line, why.column, why.message);
    }
  }

  // A map whose keys are unique and all in `allowed`.
  void check_map(const YAML::Node& n, const std::string& what, std::initializer_list<std::string_view> allowed) const {
    check_unique_keys(n, what);
    for (const auto& kv : n) {
      const std::string& key = kv.first.Scalar();
      if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
      std::string list;
      for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      fail(kv.first, "unknown key '" + key + "' in " + what + " (expected one of: " + list + ")");
    }
  }
  void check_unique_keys(const YAML::Node& n, const std::string& what) const {
    if (!n.IsMap()) fail(n, what + " must be a map" + (n.IsNull() ? " (write {} for none)" : ""));
    std::set<std::string, std::less<>> seen;
    for (const auto& kv : n) {
      if (!kv.first.IsScalar()) fail(kv.first, "the keys of " + what + " must be text");
      if (!seen.insert(kv.first.Scalar()).second)
        fail(kv.first, "duplicate key '" + kv.first.Scalar() + "' in " + what);
    }
  }
  std::string scalar(const YAML::Node& n, const std::string& what) const {
    if (!n.IsScalar()) fail(n, what + " must be text");
    return n.Scalar();
  }
  YAML::Node required(const YAML::Node& parent, const std::string& key, const std::string& what) const {
    YAML::Node n = parent[key];
    if (!n) fail(parent, what + " needs '" + key + "'");
    if (n.IsNull()) fail(key_of(parent, key), key + " must not be empty");
    return n;
  }
  // The key node of `key` in the map `parent` (an empty value has no useful position of its own).
  static YAML::Node key_of(const YAML::Node& parent, const std::string& key) {
    for (const auto& kv : parent)
      if (kv.first.Scalar() == key) return kv.first;
    return parent;
  }

  Route route(const YAML::Node& n, const std::string& what) const {
    check_map(n, what, {"post_office", "endpoint"});
    Route r;
    const YAML::Node office = required(n, "post_office", what);
    r.post_office = scalar(office, what + ".post_office");
    if (!all_digits(r.post_office, 6)) fail(office, what + ".post_office must be a 6-digit post office code");
    const YAML::Node endpoint = required(n, "endpoint", what);
    r.endpoint = scalar(endpoint, what + ".endpoint");
    const bool ok = !r.endpoint.empty() && std::all_of(r.endpoint.begin(), r.endpoint.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
             c == '.';
    });
    if (!ok) fail(endpoint, what + ".endpoint must be a connector name (letters, digits, '-', '_', '.')");
    return r;
  }

  // A section of unit code -> route. `known` says whether the catalogue has the code (and why not).
  template <typename Known>
  std::map<std::string, Route, std::less<>> section(const YAML::Node& root, const std::string& name, std::size_t digits,
                                                    Known known) const {
    std::map<std::string, Route, std::less<>> out;
    const YAML::Node n = root[name];
    if (!n) return out;
    if (n.IsNull()) fail(key_of(root, name), name + " must be a map (write {} for none)");
    check_unique_keys(n, name);
    for (const auto& kv : n) {
      const std::string& code = kv.first.Scalar();
      if (!all_digits(code, digits))
        fail(kv.first, name + " keys must be " + std::to_string(digits) + "-digit GSO codes (quote them)");
      if (const std::string why = known(code); !why.empty()) fail(kv.first, why);
      out.emplace(code, route(kv.second, name + "." + code));
    }
    return out;
  }

  const fs::path& file() const { return file_; }

 private:
  fs::path file_;
};

bool has(const auto& container, std::string_view key) {
  return container.find(key) != container.end();
}

}  // namespace

// ------------------------------------------------------------------ RouteTable

RouteTable RouteTable::load(const fs::path& routes_yaml) {
  Loader l(routes_yaml);
  bool too_large = false;
  const std::optional<std::string> content = read_file(routes_yaml, kMaxRoutesBytes, too_large);
  if (!content) fail_at(routes_yaml, 1, 1, too_large ? "the file is larger than 4 MiB" : "cannot read the file");
  const YAML::Node root = l.parse(*content);
  if (!root.IsMap()) l.fail(root, "a route table must be a YAML map");
  l.check_map(root, "the route table", {"routes", "units", "default", "provinces", "districts", "wards"});
  const YAML::Node format = l.required(root, "routes", "the route table");
  if (l.scalar(format, "routes") != kFormat)
    l.fail(format, "unsupported route table format (this hub reads " + std::string(kFormat) + ")");

  // The unit catalogue, relative to routes.yaml.
  const YAML::Node units = l.required(root, "units", "the route table");
  const std::string units_text = l.scalar(units, "units");
  if (text::is_blank(units_text)) l.fail(units, "units must name the unit catalogue CSV");
  const fs::path csv = routes_yaml.parent_path() / fs::path(units_text);
  const std::optional<std::string> csv_content = read_file(csv, kMaxCatalogueBytes, too_large);
  if (!csv_content)
    l.fail(units, too_large ? "the unit catalogue " + csv.string() + " is larger than 16 MiB"
                            : "cannot read the unit catalogue " + csv.string());
  Catalogue cat = read_catalogue(csv, *csv_content);

  RouteTable t;
  for (auto& [code, w] : cat.wards) {
    t.current_ward_names_.emplace(code, w.name);
    t.current_ward_provinces_.emplace(code, w.province);
    t.current_provinces_.insert(w.province);
  }
  for (auto& [code, old] : cat.old_wards)
    t.old_wards_.emplace(
        code, Merge{std::vector<std::string>(old.new_wards.begin(), old.new_wards.end()), old.district, old.province});
  for (auto& [code, province] : cat.old_districts) {
    OldDistrict d{province, {}};
    if (auto u = cat.old_district_units.find(code); u != cat.old_district_units.end() && u->second.full)
      d.whole_into = *u->second.new_wards.begin();
    t.old_districts_.emplace(code, std::move(d));
  }
  for (const auto& p : cat.old_provinces)
    if (!t.current_provinces_.count(p)) t.legacy_provinces_.insert(p);

  t.default_ = l.route(l.required(root, "default", "the route table"), "default");
  t.provinces_ = l.section(root, "provinces", 2, [](const std::string&) { return std::string(); });
  t.districts_ = l.section(root, "districts", 3, [&](const std::string& code) {
    return has(t.old_districts_, code) ? std::string()
                                       : "district " + code + " is not a pre-2025 district in " + units_text;
  });
  t.wards_ = l.section(root, "wards", 5, [&](const std::string& code) {
    if (has(t.current_ward_names_, code)) return std::string();
    if (has(t.old_wards_, code))
      return "ward " + code + " is a pre-2025 ward, not a current one, in " + units_text +
             " (old wards are normalised to current ones: route the current ward)";
    return "ward " + code + " is not a current ward in " + units_text;
  });
  return t;
}

RouteDecision RouteTable::route(Address& a) const {
  RouteDecision d;
  const auto flag = [&](std::string_view f) {
    if (std::find(d.flags.begin(), d.flags.end(), f) == d.flags.end()) d.flags.emplace_back(f);
  };
  const auto given = [](const std::optional<std::string>& s) -> std::optional<std::string_view> {
    if (!s || text::is_blank(*s)) return std::nullopt;
    return std::string_view(*s);
  };
  const auto ward = given(a.ward_code);
  const auto district = given(a.district_code);
  const auto province = given(a.province_code);
  const auto preset = given(a.current_ward_code);

  if (!ward && !district && !province && !preset) {
    d.route = default_;
    d.matched = "default";
    flag("no_address");
    return d;
  }

  // What the given ward code means. A district, or a province that ended with the reform (74, 77),
  // makes it a pre-2025 address; so does a ward code that is only an old one.
  const bool ward_is_current = ward && has(current_ward_names_, *ward);
  const auto old_it = ward ? old_wards_.find(*ward) : old_wards_.end();
  const Merge* old = old_it != old_wards_.end() ? &old_it->second : nullptr;
  const bool legacy = district || (province && has(legacy_provinces_, *province)) || (ward && !ward_is_current);
  const Merge* as_old = legacy ? old : nullptr;

  std::optional<std::string> normalised;  // the current ward a whole merger gives
  bool split = false;
  std::optional<std::string> current;  // the current ward to route by
  if (as_old) {
    if (as_old->new_wards.size() == 1)
      normalised = as_old->new_wards.front();
    else
      split = true;
  } else if (ward_is_current) {
    current = std::string(*ward);
  } else if (ward) {
    flag("unknown_unit");
  }
  // An old district that became one unit as a whole (Huyện Côn Đảo), when the ward says nothing.
  if (!as_old && !current && district) {
    if (auto it = old_districts_.find(*district); it != old_districts_.end() && !it->second.whole_into.empty())
      normalised = it->second.whole_into;
  }

  // A current ward already on the address (an earlier run, or a person resolving a split) stands.
  if (preset && has(current_ward_names_, *preset)) {
    current = std::string(*preset);
    if (normalised == current) flag("legacy_ward_normalised");
    if (!a.current_ward_name) a.current_ward_name = current_ward_names_.find(*current)->second;
  } else {
    if (preset) flag("unknown_unit");
    if (normalised) {
      current = normalised;
      a.current_ward_code = *normalised;
      a.current_ward_name = current_ward_names_.find(*normalised)->second;
      flag("legacy_ward_normalised");
    } else if (split) {
      flag("split_ward");
    }
  }

  const auto district_it = district ? old_districts_.find(*district) : old_districts_.end();
  if (district && district_it == old_districts_.end() && !has(districts_, *district)) flag("unknown_unit");
  if (province && !has(provinces_, *province) && !has(current_provinces_, *province) &&
      !has(legacy_provinces_, *province))
    flag("unknown_unit");

  // Most specific wins: ward, district (given, or the old ward's), province (given, or the unit's).
  const auto use = [&](const std::map<std::string, Route, std::less<>>& routes, std::string_view kind,
                       std::optional<std::string_view> code) {
    if (!code) return false;
    const auto it = routes.find(*code);
    if (it == routes.end()) return false;
    d.route = it->second;
    d.matched = std::string(kind) + ":" + it->first;
    return true;
  };
  if (use(wards_, "ward", current)) return d;
  if (use(districts_, "district", district)) return d;
  if (as_old && use(districts_, "district", as_old->district)) return d;
  if (use(provinces_, "province", province)) return d;
  std::optional<std::string_view> unit_province;
  if (current) {
    if (auto it = current_ward_provinces_.find(*current); it != current_ward_provinces_.end())
      unit_province = it->second;
  } else if (as_old) {
    unit_province = as_old->province;
  } else if (district_it != old_districts_.end()) {
    unit_province = district_it->second.province;
  }
  if (use(provinces_, "province", unit_province)) return d;
  d.route = default_;
  d.matched = "default";
  return d;
}

Address* RouteTable::citizen_address(Dossier& d) noexcept {
  std::optional<Address>& a = d.kind == DossierKind::result_delivery ? d.delivery_address : d.pickup_address;
  return a ? &*a : nullptr;
}

std::size_t RouteTable::size() const noexcept {
  return wards_.size() + districts_.size() + provinces_.size();
}

}  // namespace dh::router
