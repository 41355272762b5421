// RouteTable against the real mappings/routes.yaml and the real Ho Chi Minh City unit data
// (mappings/units/), with real codes; then the loader's errors, each naming file:line:column.
#include "hub/router/route_table.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace dh;
using namespace dh::router;
namespace fs = std::filesystem;

namespace {

const fs::path kSource = DH_SOURCE_DIR;
const fs::path kRoutes = kSource / "mappings" / "routes.yaml";

const RouteTable& table() {
  static const RouteTable t = RouteTable::load(kRoutes);
  return t;
}

Address address(std::optional<std::string> ward, std::optional<std::string> district,
                std::optional<std::string> province) {
  Address a;
  a.ward_code = std::move(ward);
  a.district_code = std::move(district);
  a.province_code = std::move(province);
  return a;
}

using Flags = std::vector<std::string>;

// The rows of one of the unit CSVs (no quoted fields in them), each as column -> value.
std::vector<std::map<std::string, std::string>> read_units(const std::string& name) {
  std::ifstream in(kSource / "mappings" / "units" / name);
  REQUIRE(in);
  const auto split = [](const std::string& line) {
    std::vector<std::string> out;
    std::stringstream ss(line);
    std::string f;
    while (std::getline(ss, f, ',')) out.push_back(f);
    if (!line.empty() && line.back() == ',') out.emplace_back();
    return out;
  };
  std::string line;
  std::getline(in, line);
  const auto header = split(line);
  std::vector<std::map<std::string, std::string>> rows;
  while (std::getline(in, line)) {
    const auto fields = split(line);
    REQUIRE(fields.size() == header.size());
    std::map<std::string, std::string> row;
    for (std::size_t i = 0; i < header.size(); ++i) row[header[i]] = fields[i];
    rows.push_back(std::move(row));
  }
  return rows;
}

// A fresh directory under the system temp dir, removed at the end.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    for (int attempt = 0; attempt < 100; ++attempt) {
      fs::path p = fs::temp_directory_path() / ("dh-router-test-" + std::to_string(rd()));
      if (fs::create_directory(p)) {
        path_ = std::move(p);
        return;
      }
    }
    FAIL("cannot make a temporary directory");
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  fs::path write(const std::string& name, const std::string& content) const {
    const fs::path p = path_ / name;
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

}  // namespace

// ------------------------------------------------------------------ the real table

TEST_CASE("router: the real table loads: 168 wards, 38 former districts, 3 provinces", "[router]") {
  CHECK(table().size() == 168 + 38 + 3);
}

TEST_CASE("router: a current ward routes by ward, and the address is left as it was", "[router]") {
  Address a = address("26740", std::nullopt, "79");
  a.ward_name = "Phường Sài Gòn";
  const Address before = a;
  const RouteDecision d = table().route(a);
  CHECK(d.matched == "ward:26740");
  CHECK(d.route.post_office == "700100");
  CHECK(d.route.endpoint == "postal");
  CHECK(d.flags.empty());
  CHECK(a == before);
}

TEST_CASE("router: old Bến Nghé (26740, Quận 1) merged whole into the new Phường Sài Gòn", "[router]") {
  Address a = address("26740", "760", "79");
  a.ward_name = "Phường Bến Nghé";
  a.district_name = "Quận 1";
  const RouteDecision d = table().route(a);
  CHECK(d.matched == "ward:26740");
  CHECK(d.route.post_office == "700100");
  CHECK(d.flags == Flags{"legacy_ward_normalised"});
  CHECK(a.current_ward_code == "26740");
  CHECK(a.current_ward_name == "Phường Sài Gòn");
  // What was given is kept.
  CHECK(a.ward_code == "26740");
  CHECK(a.ward_name == "Phường Bến Nghé");
  CHECK(a.district_code == "760");
  CHECK(a.district_name == "Quận 1");
  CHECK(a.province_code == "79");

  SECTION("routing again gives the same decision and address") {
    const Address once = a;
    const RouteDecision again = table().route(a);
    CHECK(again.matched == d.matched);
    CHECK(again.flags == d.flags);
    CHECK(a == once);
  }
}

TEST_CASE("router: an old code that is no current code normalises without a district", "[router]") {
  // Old Phường Tân Định (26734) went whole into the new Phường Tân Định, which has code 26737.
  Address a = address("26734", std::nullopt, "79");
  const RouteDecision d = table().route(a);
  CHECK(d.matched == "ward:26737");
  CHECK(d.flags == Flags{"legacy_ward_normalised"});
  CHECK(a.current_ward_code == "26737");
  CHECK(a.current_ward_name == "Phường Tân Định");
  CHECK(a.ward_code == "26734");
}

TEST_CASE("router: old Đa Kao (26737, Quận 1) was split: flagged, routed by its district", "[router]") {
  Address a = address("26737", "760", "79");
  a.ward_name = "Phường Đa Kao";
  const RouteDecision d = table().route(a);
  CHECK(d.matched == "district:760");
  CHECK(d.route.post_office == "700100");
  CHECK(d.flags == Flags{"split_ward"});
  CHECK_FALSE(a.current_ward_code);
  CHECK_FALSE(a.current_ward_name);

  SECTION("once a person sets the current ward, it routes by that ward") {
    a.current_ward_code = "26740";
    const RouteDecision resolved = table().route(a);
    CHECK(resolved.matched == "ward:26740");
    CHECK(resolved.flags.empty());
    CHECK(a.current_ward_name == "Phường Sài Gòn");
  }
}

TEST_CASE("router: without a district, a code that is current means the current ward", "[router]") {
  // 26737 was Đa Kao (split) before the reform and is Phường Tân Định after it.
  Address a = address("26737", std::nullopt, "79");
  const RouteDecision d = table().route(a);
  CHECK(d.matched == "ward:26737");
  CHECK(d.flags.empty());
  CHECK_FALSE(a.current_ward_code);
}

TEST_CASE("router: an unknown ward in province 79 routes by province, flagged", "[router]") {
  Address a = address("99999", std::nullopt, "79");
  const RouteDecision d = table().route(a);
  CHECK(d.matched == "province:79");
  CHECK(d.route.post_office == "700000");
  CHECK(d.flags == Flags{"unknown_unit"});
  CHECK_FALSE(a.current_ward_code);
}

TEST_CASE("router: a province the table does not know goes to the default, flagged", "[router]") {
  Address a = address(std::nullopt, std::nullopt, "01");
  const RouteDecision d = table().route(a);
  CHECK(d.matched == "default");
  CHECK(d.route.post_office == "100000");
  CHECK(d.flags == Flags{"unknown_unit"});
}

TEST_CASE("router: no address, or one with no unit code, goes to the default", "[router]") {
  Address empty;
  RouteDecision d = table().route(empty);
  CHECK(d.matched == "default");
  CHECK(d.route.post_office == "100000");
  CHECK(d.route.endpoint == "postal");
  CHECK(d.flags == Flags{"no_address"});

  Address text_only;
  text_only.line = "12 Nguyễn Huệ";
  d = table().route(text_only);
  CHECK(d.matched == "default");
  CHECK(d.flags == Flags{"no_address"});
}

TEST_CASE("router: Bình Dương (74) old wards normalise into the new city", "[router]") {
  SECTION("Phường Phú Thọ (25753, Thủ Dầu Một) went whole into Phường Thủ Dầu Một") {
    Address a = address("25753", "718", "74");
    const RouteDecision d = table().route(a);
    CHECK(d.matched == "ward:25747");
    CHECK(d.route.post_office == "702300");
    CHECK(d.flags == Flags{"legacy_ward_normalised"});
    CHECK(a.current_ward_code == "25747");
    CHECK(a.current_ward_name == "Phường Thủ Dầu Một");
    CHECK(a.province_code == "74");
  }
  SECTION("province 74 marks a pre-2025 address even without a district") {
    // 25747 was Phường Phú Cường; the new Phường Thủ Dầu Một kept its code.
    Address a = address("25747", std::nullopt, "74");
    const RouteDecision d = table().route(a);
    CHECK(d.matched == "ward:25747");
    CHECK(d.flags == Flags{"legacy_ward_normalised"});
    CHECK(a.current_ward_name == "Phường Thủ Dầu Một");
  }
  SECTION("a split Bình Dương ward with no district routes by its old district") {
    // 25768 was Phường Hiệp An (split); the new Phường Phú An has its code.
    Address a = address("25768", std::nullopt, "74");
    const RouteDecision d = table().route(a);
    CHECK(d.matched == "district:718");
    CHECK(d.flags == Flags{"split_ward"});
    CHECK_FALSE(a.current_ward_code);
  }
}

TEST_CASE("router: Huyện Côn Đảo (755, Bà Rịa - Vũng Tàu) became Đặc khu Côn Đảo as a whole", "[router]") {
  Address a = address(std::nullopt, "755", "77");
  const RouteDecision d = table().route(a);
  CHECK(d.matched == "ward:26732");
  CHECK(d.flags == Flags{"legacy_ward_normalised"});
  CHECK(a.current_ward_code == "26732");
  CHECK(a.current_ward_name == "Đặc khu Côn Đảo");
}

TEST_CASE("router: a 2024 ward code that vanished on 1 Jan 2025 is unknown, routed by its district", "[router]") {
  // 26869 was Phường 15 (Gò Vấp) until 31 Dec 2024; the data has no crosswalk for it.
  Address a = address("26869", "764", "79");
  const RouteDecision d = table().route(a);
  CHECK(d.matched == "district:764");
  CHECK(d.flags == Flags{"unknown_unit"});
  CHECK_FALSE(a.current_ward_code);
}

TEST_CASE("router: the 39 codes of the 2024 list that vanished on 1 Jan 2025 are unknown units", "[router]") {
  std::set<std::string> current_list;
  for (const auto& row : read_units("hcm-units-pre2025.csv")) current_list.insert(row.at("ward_code"));
  int vanished = 0;
  for (const auto& row : read_units("hcm-units-20241101.csv")) {
    Address a = address(row.at("ward_code"), row.at("district_code"), "79");
    const RouteDecision d = table().route(a);
    INFO(row.at("ward_code") << " " << row.at("ward_name") << ", " << row.at("district_name"));
    if (current_list.count(row.at("ward_code"))) {
      // A code that lived on is read as the 01/03/2025 ward of that code: normalised or split.
      CHECK((d.flags == Flags{"legacy_ward_normalised"} || d.flags == Flags{"split_ward"}));
      continue;
    }
    ++vanished;
    CHECK(d.matched == "district:" + row.at("district_code"));
    CHECK(d.flags == Flags{"unknown_unit"});
    CHECK_FALSE(a.current_ward_code);
  }
  CHECK(vanished == 39);
}

TEST_CASE("router: every one of the 168 current wards has a ward route", "[router]") {
  const auto rows = read_units("hcm-units-2025.csv");
  REQUIRE(rows.size() == 168);
  std::set<std::string> offices;
  for (const auto& row : rows) {
    Address a = address(row.at("ward_code"), std::nullopt, "79");
    const RouteDecision d = table().route(a);
    INFO(row.at("ward_code") << " " << row.at("ward_name"));
    CHECK(d.matched == "ward:" + row.at("ward_code"));
    CHECK(d.flags.empty());
    CHECK(d.route.endpoint == "postal");
    offices.insert(d.route.post_office);
  }
  CHECK(offices.size() == 38);  // one office per former district, each serving some ward
}

TEST_CASE("router: every pre-2025 HCMC district routes by district", "[router]") {
  std::set<std::string> districts;
  for (const auto& row : read_units("hcm-units-pre2025.csv")) districts.insert(row.at("district_code"));
  REQUIRE(districts.size() == 22);
  for (const auto& code : districts) {
    Address a = address(std::nullopt, code, "79");
    INFO(code);
    CHECK(table().route(a).matched == "district:" + code);
  }
}

TEST_CASE("router: every old ward normalises (394 whole) or is flagged split (47)", "[router]") {
  std::map<std::string, std::set<std::string>> targets;
  std::map<std::string, std::string> type, district, province;
  for (const auto& row : read_units("hcm-units-2025-mapping.csv")) {
    if (row.at("old_ward_code").empty()) continue;  // Côn Đảo: a district with no wards
    targets[row.at("old_ward_code")].insert(row.at("ward_code"));
    type[row.at("old_ward_code")] = row.at("merge_type");
    district[row.at("old_ward_code")] = row.at("old_district_code");
    province[row.at("old_ward_code")] = row.at("old_province_code");
  }
  int whole = 0, split = 0;
  for (const auto& [code, to] : targets) {
    Address a = address(code, district[code], province[code]);
    const RouteDecision d = table().route(a);
    INFO(code);
    if (type[code] == "full") {
      ++whole;
      REQUIRE(to.size() == 1);
      CHECK(a.current_ward_code == *to.begin());
      CHECK(d.matched == "ward:" + *to.begin());
      CHECK(d.flags == Flags{"legacy_ward_normalised"});
    } else {
      ++split;
      CHECK_FALSE(a.current_ward_code);
      CHECK(d.matched == "district:" + district[code]);
      CHECK(d.flags == Flags{"split_ward"});
    }
  }
  CHECK(whole == 394);
  CHECK(split == 47);
}

TEST_CASE("router: the citizen's address is the delivery or the pickup address", "[router]") {
  Dossier d;
  d.kind = DossierKind::result_delivery;
  CHECK(RouteTable::citizen_address(d) == nullptr);
  d.delivery_address = address("26740", std::nullopt, "79");
  d.pickup_address = address("26743", std::nullopt, "79");
  CHECK(RouteTable::citizen_address(d) == &*d.delivery_address);
  d.kind = DossierKind::dossier_pickup;
  CHECK(RouteTable::citizen_address(d) == &*d.pickup_address);
  d.pickup_address.reset();
  CHECK(RouteTable::citizen_address(d) == nullptr);
}

// ------------------------------------------------------------------ loader errors

namespace {

// A small table and catalogue that load; each test breaks one thing. Line numbers refer to these.
const std::string kGoodRoutes = R"(routes: dossier-hub/routes/v1
units: units.csv
default: { post_office: "100000", endpoint: postal }
provinces: { "79": { post_office: "700000", endpoint: postal } }
districts: { "760": { post_office: "700100", endpoint: postal } }
wards:
  "26740": { post_office: "700100", endpoint: postal }
  "26737": { post_office: "700100", endpoint: postal }
)";

// Quoted fields (a comma and a doubled quote inside one) and CRLF line ends, on purpose.
const std::string kGoodUnits =
    "province_code,province_name,ward_code,ward_name,ward_level,old_province_code,old_province_name,"
    "old_district_code,old_district_name,old_ward_code,old_ward_name,merge_type\r\n"
    "79,Thành phố Hồ Chí Minh,26740,Phường Sài Gòn,Phường,79,Thành phố Hồ Chí Minh,760,Quận 1,26740,Phường "
    "Bến Nghé,full\r\n"
    "79,\"Thành phố Hồ Chí Minh\",26740,\"Phường Sài Gòn\",Phường,79,Thành phố Hồ Chí Minh,760,Quận 1,26737,"
    "\"Phường Đa Kao, \"\"cũ\"\"\",partial\r\n"
    "79,Thành phố Hồ Chí Minh,26737,Phường Tân Định,Phường,79,Thành phố Hồ Chí Minh,760,Quận 1,26737,Phường "
    "Đa Kao,partial\r\n"
    "79,Thành phố Hồ Chí Minh,26737,Phường Tân Định,Phường,79,Thành phố Hồ Chí Minh,760,Quận 1,26734,Phường "
    "Tân Định,full\r\n";

std::string replaced(std::string s, std::string_view from, std::string_view to) {
  const auto at = s.find(from);
  REQUIRE(at != std::string::npos);
  REQUIRE(s.find(from, at + 1) == std::string::npos);
  s.replace(at, from.size(), to);
  return s;
}

std::string load_error(const fs::path& routes) {
  try {
    (void)RouteTable::load(routes);
  } catch (const RouteError& e) {
    return e.what();
  }
  return "(loaded)";
}

// Loading fails with an error that starts with `file:where: ` and contains `phrase`.
void check_error(const TempDir& dir, const std::string& routes, const std::string& units, const std::string& file,
                 const std::string& where, const std::string& phrase) {
  dir.write("routes.yaml", routes);
  dir.write("units.csv", units);
  const std::string e = load_error(dir.path() / "routes.yaml");
  INFO("error: " << e);
  CHECK_THAT(e, Catch::Matchers::StartsWith((dir.path() / file).string() + ":" + where + ": "));
  CHECK_THAT(e, Catch::Matchers::Contains(phrase));
}

}  // namespace

TEST_CASE("router loader: the small table loads and routes", "[router][loader]") {
  TempDir dir;
  dir.write("routes.yaml", kGoodRoutes);
  dir.write("units.csv", kGoodUnits);
  const RouteTable t = RouteTable::load(dir.path() / "routes.yaml");
  CHECK(t.size() == 4);
  Address a = address("26734", "760", "79");
  CHECK(t.route(a).matched == "ward:26737");
  CHECK(a.current_ward_name == "Phường Tân Định");
}

TEST_CASE("router loader: errors name file:line:column", "[router][loader]") {
  TempDir dir;
  SECTION("an unknown key at the top") {
    check_error(dir, kGoodRoutes + "wardz: {}\n", kGoodUnits, "routes.yaml", "9:1", "unknown key 'wardz'");
  }
  SECTION("an unknown key in a route") {
    check_error(dir,
                replaced(kGoodRoutes, R"("26737": { post_office: "700100", endpoint: postal })",
                         R"("26737": { post_office: "700100", endpoint: postal, office: x })"),
                kGoodUnits, "routes.yaml", "8:55", "unknown key 'office' in wards.26737");
  }
  SECTION("bad YAML") {
    dir.write("units.csv", kGoodUnits);
    dir.write("routes.yaml", replaced(kGoodRoutes, "endpoint: postal } }\ndistricts", "endpoint: postal }\ndistricts"));
    const std::string e = load_error(dir.path() / "routes.yaml");
    INFO("error: " << e);
    CHECK(std::regex_search(e, std::regex("^" +
                                          std::regex_replace((dir.path() / "routes.yaml").string(),
                                                             std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") +
                                          ":[0-9]+:[0-9]+: ")));
  }
  SECTION("a tab in the indentation is called a tab") {
    check_error(dir, replaced(kGoodRoutes, "  \"26737\":", "\t\"26737\":"), kGoodUnits, "routes.yaml", "8:1",
                "a tab in the indentation: YAML indents with spaces only");
  }
  SECTION("a missing unit catalogue names the units line") {
    check_error(dir, replaced(kGoodRoutes, "units.csv", "nowhere.csv"), kGoodUnits, "routes.yaml", "2:8",
                "cannot read the unit catalogue");
  }
  SECTION("a ward routed twice") {
    check_error(dir, kGoodRoutes + "  \"26740\": { post_office: \"700200\", endpoint: postal }\n", kGoodUnits,
                "routes.yaml", "9:3", "duplicate key '26740' in wards");
  }
  SECTION("an old ward code routed as a ward") {
    check_error(dir, replaced(kGoodRoutes, "\"26737\":", "\"26734\":"), kGoodUnits, "routes.yaml", "8:3",
                "is a pre-2025 ward");
  }
  SECTION("a ward the catalogue does not know") {
    check_error(dir, replaced(kGoodRoutes, "\"26737\":", "\"12345\":"), kGoodUnits, "routes.yaml", "8:3",
                "not a current ward");
  }
  SECTION("a district the catalogue does not know") {
    check_error(dir, replaced(kGoodRoutes, "\"760\":", "\"761\":"), kGoodUnits, "routes.yaml", "5:14",
                "not a pre-2025 district");
  }
  SECTION("a code of the wrong shape") {
    check_error(dir, replaced(kGoodRoutes, "\"79\":", "\"7\":"), kGoodUnits, "routes.yaml", "4:14",
                "2-digit GSO codes");
  }
  SECTION("a post office code of the wrong shape") {
    check_error(dir, replaced(kGoodRoutes, "\"100000\"", "\"1000\""), kGoodUnits, "routes.yaml", "3:25",
                "6-digit post office code");
  }
  SECTION("no default") {
    check_error(dir, replaced(kGoodRoutes, "default: { post_office: \"100000\", endpoint: postal }\n", ""), kGoodUnits,
                "routes.yaml", "1:1", "needs 'default'");
  }
  SECTION("another format") {
    check_error(dir, replaced(kGoodRoutes, "routes/v1", "routes/v2"), kGoodUnits, "routes.yaml", "1:9",
                "unsupported route table format");
  }
  SECTION("CSV: a bad merge type names the catalogue's line and column") {
    check_error(dir, kGoodRoutes, replaced(kGoodUnits, "Tân Định,full", "Tân Định,whole"), "units.csv", "5:113",
                "merge_type must be full or partial");
  }
  SECTION("CSV: a quoted field that is not closed") {
    check_error(dir, kGoodRoutes, replaced(kGoodUnits, "Tân Định,full", "Tân Định,\"full"), "units.csv", "5:113",
                "a quoted field is not closed");
  }
  SECTION("CSV: a missing column") {
    check_error(dir, kGoodRoutes, replaced(kGoodUnits, ",merge_type\r\n", ",kind\r\n"), "units.csv", "1:1",
                "no column 'merge_type'");
  }
  SECTION("CSV: a row with too few fields") {
    check_error(dir, kGoodRoutes, replaced(kGoodUnits, "Đa Kao,partial\r\n", "Đa Kao\r\n"), "units.csv", "4:1",
                "the row has 11 fields, the header 12");
  }
  SECTION("CSV: a full merger into two new wards") {
    check_error(dir, kGoodRoutes, replaced(kGoodUnits, "Đa Kao,partial\r\n", "Đa Kao,full\r\n"), "units.csv", "3:1",
                "both full and partial");
  }
  SECTION("the route table itself is missing") {
    const std::string e = load_error(dir.path() / "routes.yaml");
    CHECK(e == (dir.path() / "routes.yaml").string() + ":1:1: cannot read the file");
  }
}
