// `dossier-hub audit verify` as an operator runs it: the real binary on a real hub file, its exit
// codes and what it prints.
#include "hub/store/sqlite_store.hpp"
#include "tests/hub/store/store_fixture.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <sys/wait.h>

using namespace dh::store;
using namespace dh::store::testing;

namespace {

Run hub(const std::string& args) {
  return run_command(std::string(DH_HUB_BINARY) + " " + args);
}

}  // namespace

TEST_CASE("audit verify: 0 for an intact chain, 1 with the first bad seq, 2 for usage errors") {
  TempDir dir;
  {
    SqliteOptions o;
    o.file = dir.file();
    SqliteStore s(o);
    for (int i = 0; i < 3; ++i) REQUIRE(accept_sync(s, make_accept("CLI-" + std::to_string(i))));
  }
  const std::string db = dir.file().string();

  auto ok = hub("audit verify --db " + db);
  CHECK(ok.exit_code == 0);
  CHECK_THAT(ok.output, Catch::Contains("audit chain intact: 6 entries checked"));

  {
    RawDb raw(dir.file());
    REQUIRE(raw.exec("DROP TRIGGER audit_no_update") == SQLITE_OK);
    REQUIRE(raw.exec("UPDATE audit SET detail = 'agency=hcm-justice dossiers=0 outbox=0' WHERE seq = 3") == SQLITE_OK);
  }
  auto broken = hub("audit verify --db " + db);
  CHECK(broken.exit_code == 1);
  CHECK_THAT(broken.output, Catch::Contains("BROKEN at seq 3"));

  auto missing = hub("audit verify --db " + (dir.path() / "missing.db").string());
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.output, Catch::Contains("no such file"));
  CHECK_FALSE(fs::exists(dir.path() / "missing.db"));  // verifying never creates a file

  CHECK(hub("audit verify").exit_code == 2);
  CHECK(hub("audit --db " + db).exit_code == 2);
  CHECK(hub("audit frobnicate --db " + db).exit_code == 2);
  CHECK(hub("audit verify --db " + db + " --colour blue").exit_code == 2);
  auto help = hub("audit --help");
  CHECK(help.exit_code == 0);
  CHECK_THAT(help.output, Catch::Contains("Usage: dossier-hub audit verify --db FILE"));
  CHECK_THAT(hub("--help").output, Catch::Contains("audit"));
}
