#include "hub/store/sqlite.hpp"

#include "hub/store/wal_batch_vfs.hpp"

#include <sqlite3.h>

namespace dh::store::sqlite {

Query::~Query() {
  if (s_) {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
}

Query& Query::bind(int i, std::string_view text) {
  const int rc = sqlite3_bind_text64(s_, i, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Query& Query::bind(int i, std::int64_t v) {
  const int rc = sqlite3_bind_int64(s_, i, v);
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Query& Query::bind_blob(int i, std::string_view bytes) {
  // A zero-length blob is bound as such (not NULL): sqlite3_bind_blob64 with a null pointer binds NULL.
  static const char kEmpty = 0;
  const int rc = sqlite3_bind_blob64(s_, i, bytes.empty() ? &kEmpty : bytes.data(), bytes.size(), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Query& Query::bind_null(int i) {
  const int rc = sqlite3_bind_null(s_, i);
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Outcome<bool> Query::step() {
  if (bind_rc_ != SQLITE_OK) return make_error(std::string("store: cannot bind a value: ") + sqlite3_errstr(bind_rc_));
  const int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return c_->error("statement failed");
}

Outcome<void> Query::run() {
  for (;;) {
    auto r = step();
    if (!r) return r.error();
    if (!*r) return {};
  }
}

int Query::changes() const noexcept {
  return sqlite3_changes(c_->raw());
}

std::string Query::text(int col) const {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(s_, col));
  const int n = sqlite3_column_bytes(s_, col);
  return p ? std::string(p, static_cast<std::size_t>(n)) : std::string();
}

std::optional<std::string> Query::opt_text(int col) const {
  if (sqlite3_column_type(s_, col) == SQLITE_NULL) return std::nullopt;
  return text(col);
}

std::int64_t Query::int64(int col) const {
  return sqlite3_column_int64(s_, col);
}

Outcome<std::unique_ptr<Connection>> Connection::open(const std::filesystem::path& file, Mode mode,
                                                      std::chrono::milliseconds busy_timeout) {
  int flags = SQLITE_OPEN_NOMUTEX;
  switch (mode) {
    case Mode::write:
      flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
      break;
    case Mode::read:
      flags |= SQLITE_OPEN_READWRITE;
      break;
    case Mode::read_only:
      flags |= SQLITE_OPEN_READONLY;
      break;
  }
  sqlite3* db = nullptr;
  // The writer's WAL frames go to the file in one write per commit (wal_batch_vfs.hpp).
  const int rc = sqlite3_open_v2(file.c_str(), &db, flags, mode == Mode::write ? wal_batch_vfs() : nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = "store: cannot open " + file.string() + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close_v2(db);
    return make_error(std::move(msg));
  }
  std::unique_ptr<Connection> c(new Connection(db));
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, static_cast<int>(busy_timeout.count()));
  switch (mode) {
    case Mode::write: {
      // journal_mode answers with the mode now in force: a file that cannot do WAL says so.
      auto q = c->query("PRAGMA journal_mode=WAL");
      if (!q) return q.error();
      auto row = q->step();
      if (!row) return row.error();
      if (!*row || q->text(0) != "wal") return make_error("store: " + file.string() + ": cannot use WAL mode");
      if (auto r = c->exec_script("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"); !r) return r.error();
      break;
    }
    case Mode::read:
      if (auto r = c->exec_script("PRAGMA query_only=ON;"); !r) return r.error();
      break;
    case Mode::read_only:
      break;
  }
  return c;
}

Connection::~Connection() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Outcome<Query> Connection::query(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* s = nullptr;
    const int rc =
        sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &s, nullptr);
    if (rc != SQLITE_OK) return error("cannot prepare a statement");
    it = cache_.emplace(sql, s).first;
  }
  return Query(*this, it->second);
}

Outcome<void> Connection::exec_script(const char* sql) {
  if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return error("script failed");
  return {};
}

Error Connection::error(std::string_view what) const {
  return make_error("store: " + std::string(what) + ": " + sqlite3_errmsg(db_));
}

bool Connection::in_transaction() const noexcept {
  return sqlite3_get_autocommit(db_) == 0;
}

Outcome<void> Connection::each(std::string_view sql, Bind bind, EachRow row) {
  auto q = query(sql);
  if (!q) return q.error();
  bind(*q);
  for (;;) {
    auto more = q->step();
    if (!more) return more.error();
    if (!*more) return {};
    if (auto r = row(static_cast<const Query&>(*q)); !r) return r.error();
  }
}

Outcome<std::int64_t> Connection::write(std::string_view sql, Bind bind) {
  auto q = query(sql);
  if (!q) return q.error();
  bind(*q);
  if (auto r = q->run(); !r) return r.error();
  return std::int64_t{q->changes()};
}

Outcome<void> Connection::begin() {
  return exec("BEGIN IMMEDIATE");
}

Outcome<void> Connection::exec(std::string_view sql) {
  auto q = query(sql);
  if (!q) return q.error();
  return q->run();
}

Outcome<void> Connection::commit() {
  return exec("COMMIT");
}

}  // namespace dh::store::sqlite
