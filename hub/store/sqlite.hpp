// A thin layer over the SQLite C API for the store: connections that keep their prepared
// statements, and statement uses that always reset, so that no read transaction stays open.
#pragma once

#include "hub/common/result.hpp"
#include "hub/store/db.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

struct sqlite3;
struct sqlite3_stmt;

namespace dh::store::sqlite {

class Connection;

// One use of a cached prepared statement: bind, step, read columns. Every value is bound, never
// written into SQL text. Resets the statement and clears its bindings when it goes away.
class Query final : public Row, public Params {
 public:
  Query(Connection& c, sqlite3_stmt* s) noexcept : c_(&c), s_(s) {}
  Query(Query&& o) noexcept : c_(o.c_), s_(o.s_), bind_rc_(o.bind_rc_) { o.s_ = nullptr; }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;
  Query& operator=(Query&&) = delete;
  ~Query();

  using Params::bind_opt;
  Query& bind(int i, std::string_view text) override;
  Query& bind(int i, std::int64_t v) override;
  Query& bind_blob(int i, std::string_view bytes) override;
  Query& bind_null(int i) override;

  // True when a row is ready; false at the end.
  Outcome<bool> step();
  // Steps to the end: for statements that return no rows.
  Outcome<void> run();
  // Rows changed by the last INSERT, UPDATE or DELETE on this connection.
  [[nodiscard]] int changes() const noexcept;

  [[nodiscard]] std::string text(int col) const override;  // TEXT or BLOB, as bytes
  [[nodiscard]] std::optional<std::string> opt_text(int col) const override;
  [[nodiscard]] std::int64_t int64(int col) const override;

 private:
  Connection* c_;
  sqlite3_stmt* s_;
  int bind_rc_ = 0;  // the first failing bind, reported by step()
};

class Connection final : public WriteDb {
 public:
  enum class Mode {
    write,      // read-write, creates the file, WAL, synchronous=FULL, foreign keys on
    read,       // a reader of a store that has a writer: query_only
    read_only,  // an existing file opened read-only (audit verification by an operator)
  };

  // The connection is used by one thread at a time (SQLITE_OPEN_NOMUTEX).
  static Outcome<std::unique_ptr<Connection>> open(const std::filesystem::path& file, Mode mode,
                                                   std::chrono::milliseconds busy_timeout);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // A use of the statement for `sql`, prepared once and kept. `sql` must be static text: the
  // cache keeps the view.
  Outcome<Query> query(std::string_view sql);
  // Runs a script without values (schema, pragmas): sqlite3_exec.
  Outcome<void> exec_script(const char* sql) override;

  Outcome<void> each(std::string_view sql, Bind bind, EachRow row) override;
  Outcome<std::int64_t> write(std::string_view sql, Bind bind) override;
  // BEGIN IMMEDIATE: the write lock is taken at once, so the batch never fails half-way for it.
  Outcome<void> begin() override;
  Outcome<void> exec(std::string_view sql) override;
  Outcome<void> commit() override;
  // The last failure as an error: "store: <what>: <SQLite's message>".
  [[nodiscard]] Error error(std::string_view what) const override;
  [[nodiscard]] bool in_transaction() const noexcept override;
  [[nodiscard]] sqlite3* raw() const noexcept { return db_; }

 private:
  explicit Connection(sqlite3* db) noexcept : db_(db) {}
  sqlite3* db_;
  std::unordered_map<std::string_view, sqlite3_stmt*> cache_;
};

}  // namespace dh::store::sqlite
