// The WAL-batching VFS (hub/store/wal_batch_vfs.hpp) on real files, through the SQLite C API:
// the same data as the platform VFS, committed frames on disk when COMMIT returns, far fewer
// write calls. Write calls are counted from /proc/self/io (syscw); this test has one thread.
#include "hub/store/wal_batch_vfs.hpp"

#include "tests/hub/store/store_fixture.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <sqlite3.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using dh::store::testing::TempDir;

class Db {
 public:
  Db(const std::filesystem::path& file, const char* vfs) {
    REQUIRE(sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs) == SQLITE_OK);
    exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
  }
  ~Db() { sqlite3_close_v2(db_); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  void exec(const std::string& sql) {
    char* err = nullptr;
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    INFO(sql << ": " << (err ? err : ""));
    sqlite3_free(err);
    REQUIRE(rc == SQLITE_OK);
  }
  std::string text(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) == SQLITE_OK);
    std::string out;
    if (sqlite3_step(s) == SQLITE_ROW) {
      const auto* p = sqlite3_column_text(s, 0);
      out = p ? reinterpret_cast<const char*>(p) : "";  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
    }
    sqlite3_finalize(s);
    return out;
  }
  sqlite3* raw() { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

long write_calls() {
  std::ifstream io("/proc/self/io");
  std::string key;
  long value = 0;
  while (io >> key >> value)
    if (key == "syscw:") return value;
  FAIL("no syscw in /proc/self/io");
  return 0;
}

// One transaction of `rows` rows of `size` random bytes each, in table t.
void insert_rows(Db& db, int rows, int size) {
  db.exec("BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " + std::to_string(rows) +
          ") INSERT INTO t (v) SELECT randomblob(" + std::to_string(size) + ") FROM n; COMMIT;");
}

// The frames in the WAL after the last commit, from SQLite's WAL hook.
int g_wal_frames = 0;
void count_frames(Db& db) {
  sqlite3_wal_hook(
      db.raw(),
      [](void*, sqlite3*, const char*, int frames) {
        g_wal_frames = frames;
        return SQLITE_OK;
      },
      nullptr);
}

}  // namespace

TEST_CASE("a commit's WAL frames reach the file in one write per 128 KiB, not two per page") {
  TempDir dir;
  long calls[2] = {0, 0};
  int frames[2] = {0, 0};
  const char* vfs[2] = {nullptr, dh::store::sqlite::wal_batch_vfs()};
  for (int i = 0; i < 2; ++i) {
    Db db(dir.file("t" + std::to_string(i) + ".db"), vfs[i]);
    count_frames(db);
    db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)");
    const int frames_before = g_wal_frames;
    const long before = write_calls();
    insert_rows(db, 100, 2000);  // ~50 pages of data and their b-tree: one commit
    calls[i] = write_calls() - before;
    frames[i] = g_wal_frames - frames_before;
  }
  INFO("platform VFS: " << calls[0] << " write calls; batching VFS: " << calls[1] << " for " << frames[1] << " frames");
  CHECK(frames[1] > 40);
  CHECK(calls[0] >= 2 * frames[1]);                            // the platform's: header and page, each frame
  CHECK(calls[1] <= (frames[1] * (4096 + 24)) / 0x1ffff + 2);  // batched: one per 128 KiB, and the rest
}

TEST_CASE("a transaction larger than the page cache reads back what it wrote, and commits it whole") {
  TempDir dir;
  {
    Db db(dir.file(), dh::store::sqlite::wal_batch_vfs());
    // A 16-page cache: the pager spills frames to the WAL mid-transaction, reads them back and
    // writes some again in place, all before the commit.
    db.exec("PRAGMA cache_size=16; CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)");
    db.exec("BEGIN");
    db.exec(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) "
        "INSERT INTO t (v) SELECT randomblob(3000) FROM n");
    db.exec("UPDATE t SET v = zeroblob(3000) WHERE id % 3 = 0");
    CHECK(db.text("SELECT sum(length(v)) FROM t") == "6000000");
    CHECK(db.text("SELECT count(*) FROM t WHERE v = zeroblob(3000)") == "666");
    db.exec("COMMIT");
  }
  Db other(dir.file(), nullptr);  // the platform VFS sees the same file
  CHECK(other.text("PRAGMA integrity_check") == "ok");
  CHECK(other.text("SELECT count(*) FROM t") == "2000");
  CHECK(other.text("SELECT count(*) FROM t WHERE v = zeroblob(3000)") == "666");
}

TEST_CASE("what was committed survives a process that ends without closing, and what was not is gone") {
  TempDir dir;
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    {
      sqlite3* db = nullptr;
      if (sqlite3_open_v2(dir.file().c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                          dh::store::sqlite::wal_batch_vfs()) != SQLITE_OK)
        _exit(2);
      const char* sql =
          "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=16;"
          "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB);"
          "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500) "
          "INSERT INTO t (v) SELECT randomblob(1000) FROM n;"
          "BEGIN; INSERT INTO t (v) SELECT randomblob(1000) FROM t;";  // left open, frames spilled: never committed
      if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) _exit(3);
    }
    _exit(0);  // no close, no checkpoint, the open transaction's frames maybe written, maybe not
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  Db db(dir.file(), nullptr);
  CHECK(db.text("PRAGMA integrity_check") == "ok");
  CHECK(db.text("SELECT count(*) FROM t") == "500");
}
