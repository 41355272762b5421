// The hub configuration's `store` section: the embedded store by default, PostgreSQL for shared
// mode, and the mistakes an operator makes said with file:line:column.
#include "hub/config/hub_config.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace dh::config;
namespace fs = std::filesystem;

namespace {

// A configuration file with `store_section` (YAML) in a temporary folder, with placeholder
// certificate files (the loader checks that they exist, not what they hold).
class ConfigFile {
 public:
  explicit ConfigFile(const std::string& store_section) {
    static std::atomic<int> n{0};
    dir_ = fs::temp_directory_path() / ("dh-config-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::create_directories(dir_);
    for (const char* f : {"hub.crt", "hub.key", "ca.crt"}) std::ofstream(dir_ / f) << "placeholder\n";
    std::ofstream(dir_ / "hub.yaml") << "hub: dossier-hub/config/v1\n"
                                        "tls: {certificate: hub.crt, private_key: hub.key, ca: ca.crt}\n"
                                        "client_tls: {certificate: hub.crt, private_key: hub.key, ca: ca.crt}\n"
                                        "postal:\n"
                                        "  identity: {subject_cn: postal, issuer: \"CN=Dev CA\"}\n"
                                        "  endpoints: {vnpost: {url: \"https://127.0.0.1:9443\"}}\n"
                                     << store_section;
  }
  ~ConfigFile() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  ConfigFile(const ConfigFile&) = delete;
  ConfigFile& operator=(const ConfigFile&) = delete;

  [[nodiscard]] HubConfig load() const { return HubConfig::load(dir_ / "hub.yaml"); }

 private:
  fs::path dir_;
};

}  // namespace

TEST_CASE("store: the embedded SQLite store unless told otherwise") {
  const auto c = ConfigFile("").load();
  CHECK(c.store_kind == StoreKind::sqlite);
  CHECK(c.store_batch == 256);
  const auto explicit_sqlite = ConfigFile("store: {kind: sqlite, file: state/hub.db, batch: 64}\n").load();
  CHECK(explicit_sqlite.store_kind == StoreKind::sqlite);
  CHECK(explicit_sqlite.store_file.filename() == "hub.db");
  CHECK(explicit_sqlite.store_batch == 64);
}

TEST_CASE("store: kind postgres with its URL, timeouts and read connections") {
  const auto c = ConfigFile(
                     "store:\n"
                     "  kind: postgres\n"
                     "  url: postgresql://hub@db.internal:5432/dossier_hub\n"
                     "  batch: 128\n"
                     "  connect_timeout: 3s\n"
                     "  statement_timeout: 2500ms\n"
                     "  read_connections: 8\n")
                     .load();
  CHECK(c.store_kind == StoreKind::postgres);
  CHECK(c.store_postgres.url == "postgresql://hub@db.internal:5432/dossier_hub");
  CHECK(c.store_batch == 128);
  CHECK(c.store_postgres.connect_timeout == std::chrono::seconds(3));
  CHECK(c.store_postgres.statement_timeout == std::chrono::milliseconds(2500));
  CHECK(c.store_postgres.read_connections == 8);

  const auto defaults = ConfigFile("store: {kind: postgres, url: \"postgres://localhost/hub\"}\n").load();
  CHECK(defaults.store_postgres.connect_timeout == std::chrono::seconds(5));
  CHECK(defaults.store_postgres.statement_timeout == std::chrono::seconds(5));
  CHECK(defaults.store_postgres.read_connections == 4);
}

TEST_CASE("store: mistakes are refused with where they are") {
  using Catch::Contains;
  CHECK_THROWS_WITH(ConfigFile("store: {kind: mysql}\n").load(),
                    Contains("hub.yaml:7:") && Contains("store.kind must be sqlite") && Contains("or postgres"));
  CHECK_THROWS_WITH(ConfigFile("store: {kind: postgres}\n").load(), Contains("needs store.url"));
  CHECK_THROWS_WITH(ConfigFile("store: {kind: postgres, url: \"host=db dbname=hub\"}\n").load(),
                    Contains("store.url must be a postgresql:// URL"));
  CHECK_THROWS_WITH(ConfigFile("store: {kind: postgres, url: \"postgresql://db/hub\", file: hub.db}\n").load(),
                    Contains("store.file belongs to store.kind: sqlite"));
  CHECK_THROWS_WITH(ConfigFile("store: {url: \"postgresql://db/hub\"}\n").load(),
                    Contains("store.url belongs to store.kind: postgres"));
  CHECK_THROWS_WITH(ConfigFile("store: {kind: postgres, url: \"postgresql://db/hub\", pool: 3}\n").load(),
                    Contains("unknown key 'pool' in store"));
  CHECK_THROWS_WITH(
      ConfigFile("store: {kind: postgres, url: \"postgresql://db/hub\", statement_timeout: soon}\n").load(),
      Contains("store.statement_timeout must be a duration"));
  CHECK_THROWS_WITH(ConfigFile("store: {kind: postgres, url: \"postgresql://db/hub\", read_connections: 0}\n").load(),
                    Contains("store.read_connections must be a whole number from 1 to 256"));
}
