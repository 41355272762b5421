// Loading the agency mappings: each file compiles on its own, so one bad file never holds back
// the others, and on a reload a refused agency keeps the version it ran before.
#include "hub/service/partners.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

using namespace dh;
namespace fs = std::filesystem;

namespace {

// A copy of the shipped mappings folder in a temporary directory, removed at the end.
struct MappingsCopy {
  fs::path dir;
  MappingsCopy() {
    dir = fs::temp_directory_path() / ("dh-partners-" + std::to_string(std::random_device{}()));
    fs::create_directories(dir);
    fs::copy(fs::path(DH_SOURCE_DIR) / "mappings", dir, fs::copy_options::recursive);
  }
  ~MappingsCopy() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  [[nodiscard]] std::string read(const std::string& name) const {
    std::ifstream in(dir / name);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  void write(const std::string& name, const std::string& text) const { std::ofstream(dir / name) << text; }
  // An unknown top-level key: the loader refuses the file.
  void damage(const std::string& name) const { write(name, read(name) + "\ncolour: blue\n"); }
};

std::vector<std::string> agencies(const service::MappingSet& set) {
  std::vector<std::string> out;
  for (const auto& m : set.mappings) out.push_back(m->agency_id());
  return out;
}

}  // namespace

TEST_CASE("load_mappings: a refused file at start-up is left out, the others load", "[partners]") {
  MappingsCopy m;
  m.damage("hcm-justice.yaml");
  auto set = service::load_mappings(m.dir, 1);
  CHECK(set->find("hcm-justice") == nullptr);
  CHECK(set->find("hcm-immigration") != nullptr);
  CHECK(set->mappings.size() == 5);
  REQUIRE(set->refused.size() == 1);
  CHECK(set->refused[0].file == "hcm-justice.yaml");
  CHECK_FALSE(set->refused[0].kept);
  CHECK_THAT(set->refused[0].reason, Catch::Contains("hcm-justice.yaml:") && Catch::Contains("colour"));
}

TEST_CASE("load_mappings: on a reload a refused agency keeps its earlier version, the others are new", "[partners]") {
  MappingsCopy m;
  auto first = service::load_mappings(m.dir, 1);
  REQUIRE(first->refused.empty());
  REQUIRE(first->mappings.size() == 6);
  const mapping::Mapping* old_justice = first->find("hcm-justice");
  const mapping::Mapping* old_immigration = first->find("hcm-immigration");

  m.damage("hcm-justice.yaml");
  m.write("hcm-new-agency.yaml", "mapping: dossier-hub/mapping/v1\nnot_a_key: 1\n");
  auto second = service::load_mappings(m.dir, 2, first.get());
  CHECK(second->generation == 2);
  CHECK(second->find("hcm-justice") == old_justice);          // the very version that ran before
  CHECK(second->find("hcm-immigration") != old_immigration);  // compiled again
  CHECK(second->find("hcm-immigration") != nullptr);
  CHECK(second->find("hcm-new-agency") == nullptr);
  CHECK(agencies(*second) == agencies(*first));
  REQUIRE(second->refused.size() == 2);
  CHECK(second->refused[0].file == "hcm-justice.yaml");
  CHECK(second->refused[0].kept);
  CHECK(second->refused[1].file == "hcm-new-agency.yaml");
  CHECK_FALSE(second->refused[1].kept);

  // Mended: the next reload takes it again and refuses nothing.
  m.write("hcm-justice.yaml", m.read("hcm-justice.yaml").substr(0, m.read("hcm-justice.yaml").size() - 13));
  fs::remove(m.dir / "hcm-new-agency.yaml");
  auto third = service::load_mappings(m.dir, 3, second.get());
  CHECK(third->refused.empty());
  CHECK(third->find("hcm-justice") != old_justice);
}

TEST_CASE("load_mappings: two mappings that could claim one certificate give way to what ran before", "[partners]") {
  MappingsCopy m;
  auto first = service::load_mappings(m.dir, 1);
  // A new agency that claims hcm-justice's certificate: refused; hcm-justice, unchanged in meaning
  // but compiled again, gives way too and keeps its earlier version.
  m.write("hcm-other.yaml", m.read("hcm-justice.yaml"));
  auto second = service::load_mappings(m.dir, 2, first.get());
  CHECK(second->find("hcm-other") == nullptr);
  CHECK(second->find("hcm-justice") == first->find("hcm-justice"));
  REQUIRE(second->refused.size() == 2);
  for (const auto& r : second->refused)
    CHECK_THAT(r.reason, Catch::Contains("each certificate must map to one partner"));

  // At start-up there is nothing to fall back on: both are left out.
  auto fresh = service::load_mappings(m.dir, 1);
  CHECK(fresh->find("hcm-other") == nullptr);
  CHECK(fresh->find("hcm-justice") == nullptr);
  CHECK(fresh->mappings.size() == 5);
}

TEST_CASE("load_mappings: a folder where nothing compiles is an error", "[partners]") {
  MappingsCopy m;
  for (const auto& e : fs::directory_iterator(m.dir))
    if (e.path().extension() == ".yaml" && e.path().filename() != "routes.yaml") m.damage(e.path().filename().string());
  CHECK_THROWS_AS(service::load_mappings(m.dir, 1), mapping::MappingError);
}
