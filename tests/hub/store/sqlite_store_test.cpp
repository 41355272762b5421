// The embedded store against real SQLite files in temporary folders: every case of
// store_cases.hpp, plus what only the SQLite store does.
#include "hub/store/sqlite_store.hpp"

#include "hub/store/schema.hpp"
#include "tests/hub/store/store_fixture.hpp"

#include <catch2/catch.hpp>

namespace {

// A file in a temporary folder of its own.
class SqliteBackend {
 public:
  static constexpr const char* kUniqueHubId = "UNIQUE constraint failed: dossiers.hub_id";
  static constexpr const char* kForeignKey = "FOREIGN KEY";
  static constexpr const char* kWritesHeld = "locked";
  static constexpr const char* kCannotOpen = "cannot open";

  class Raw : public dh::store::testing::RawDb {
   public:
    explicit Raw(const SqliteBackend& b) : RawDb(b.dir_.file()) {}
  };

  [[nodiscard]] std::unique_ptr<dh::store::SqliteStore> open() const {
    return std::make_unique<dh::store::SqliteStore>(options());
  }
  [[nodiscard]] std::unique_ptr<dh::store::SqliteStore> open_impatient() const {
    auto o = options();
    o.busy_timeout = std::chrono::milliseconds(50);
    return std::make_unique<dh::store::SqliteStore>(o);
  }
  void open_unreachable() const {
    dh::store::SqliteStore s(
        dh::store::SqliteOptions{dir_.path() / "no" / "such" / "folder.db", 256, std::chrono::seconds(1)});
  }
  [[nodiscard]] static std::int64_t migration_count() {
    return static_cast<std::int64_t>(dh::store::migrations().size());
  }
  [[nodiscard]] static std::span<const dh::store::Migration> schema() { return dh::store::migrations(); }
  static void check_durable(Raw& raw) { CHECK(raw.text("PRAGMA journal_mode") == "wal"); }
  void check_after_abrupt_end() const {
    CHECK(std::filesystem::exists(dir_.file("hub.db-wal")));  // what it wrote is in the WAL, never checkpointed
  }
  static void hold_writes(Raw& raw) { REQUIRE(raw.exec("BEGIN IMMEDIATE") == SQLITE_OK); }
  static void release_writes(Raw& raw) { REQUIRE(raw.exec("ROLLBACK") == SQLITE_OK); }
  static std::string drop_trigger(const std::string& name) { return "DROP TRIGGER " + name; }
  [[nodiscard]] dh::Outcome<dh::store::AuditCheck> verify_offline() const {
    return dh::store::verify_audit_file(dir_.file());
  }
  [[nodiscard]] dh::Outcome<dh::store::AuditCheck> verify_offline_missing() const {
    return dh::store::verify_audit_file(dir_.file("missing.db"));
  }

 private:
  [[nodiscard]] dh::store::SqliteOptions options() const {
    dh::store::SqliteOptions o;
    o.file = dir_.file();
    return o;
  }

  dh::store::testing::TempDir dir_;
};

}  // namespace

using Backend = SqliteBackend;
#include "tests/hub/store/store_cases.hpp"

TEST_CASE("claim from a completion callback is refused instead of waiting for itself") {
  Backend db;
  auto store = db.open();
  auto& s = *store;
  Pending<bool> refused;
  s.accept(make_accept("STP-SELF"), [&s, done = refused.done()](Outcome<AcceptResult>) {
    done(!s.claim(at(), std::chrono::seconds(1), 1, {}).has_value());
  });
  CHECK(refused.get().value());
}

TEST_CASE("the embedded store belongs to one process at a time") {
  Backend db;
  auto first = db.open();
  // flock(2) locks are per open file: a second open in the same process is refused like another
  // process's would be.
  CHECK_THROWS_WITH(db.open(), Catch::Contains("in use by another dossier-hub process"));
  first.reset();
  CHECK_NOTHROW(db.open());  // closed: free again
}

TEST_CASE("leases of a process that died are released when the store opens again") {
  Backend db;
  auto r = make_accept("STP-L", 2);
  r.outbox[0].due_at = at(-10);
  r.outbox[1].due_at = at(-5);
  {
    auto s = db.open();
    REQUIRE(accept_sync(*s, std::move(r)));
    auto claimed = s->claim(at(), std::chrono::seconds(600), 10, {});
    REQUIRE(claimed);
    REQUIRE(claimed->size() == 2);
  }  // the process "dies" holding both leases
  auto s = db.open();
  auto again = s->claim(at(1), std::chrono::seconds(600), 10, {});  // long before the leases would end
  REQUIRE(again);
  CHECK(again->size() == 2);
}
