// What the PostgreSQL store tests share: the test server's URL (DH_PG_URL, started by
// tests/servers/postgres.sh), a raw libpq connection to look behind the store's back, and a
// database of its own for each test, dropped afterwards.
#pragma once

#include "hub/common/ids.hpp"
#include "hub/store/pg_store.hpp"
#include "hub/store/schema.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <libpq-fe.h>
#include <string>

namespace dh::store::testing {

inline std::string pg_url() {
  const char* u = std::getenv("DH_PG_URL");
  return u && *u ? u : "postgresql://postgres@127.0.0.1:55432/postgres";
}

// `url` with its database replaced by `database`: postgresql://user@host:port/<database>?params.
inline std::string with_database(const std::string& url, const std::string& database) {
  const auto scheme = url.find("://");
  REQUIRE(scheme != std::string::npos);
  const auto query = url.find('?', scheme + 3);
  auto path = url.find('/', scheme + 3);
  if (path == std::string::npos || (query != std::string::npos && path > query)) path = query;
  const std::string head = url.substr(0, path == std::string::npos ? url.size() : path);
  return head + "/" + database + (query == std::string::npos ? "" : url.substr(query));
}

// A plain libpq connection, text results.
class PgRaw {
 public:
  explicit PgRaw(const std::string& url) : c_(PQconnectdb(url.c_str())) {
    INFO(PQerrorMessage(c_));
    REQUIRE(PQstatus(c_) == CONNECTION_OK);
  }
  ~PgRaw() { PQfinish(c_); }
  PgRaw(const PgRaw&) = delete;
  PgRaw& operator=(const PgRaw&) = delete;

  std::string text(const std::string& sql) {
    PGresult* r = PQexec(c_, sql.c_str());
    INFO(sql << ": " << PQresultErrorMessage(r));
    REQUIRE(PQresultStatus(r) == PGRES_TUPLES_OK);
    REQUIRE(PQntuples(r) >= 1);
    std::string v = PQgetvalue(r, 0, 0);
    PQclear(r);
    return v;
  }
  std::int64_t scalar(const std::string& sql) { return std::stoll(text(sql)); }
  std::int64_t count(const std::string& table) { return scalar("SELECT count(*) FROM " + table); }
  // "" when `sql` ran, else the server's message.
  std::string error_of(const std::string& sql) {
    PGresult* r = PQexec(c_, sql.c_str());
    const auto st = PQresultStatus(r);
    std::string e = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? "" : PQresultErrorMessage(r);
    PQclear(r);
    return e;
  }

 private:
  PGconn* c_;
};

// A database of its own on the test server, created empty and dropped afterwards.
class PgDatabase {
 public:
  PgDatabase() {
    static std::atomic<int> n{0};
    name_ = "dh_test_" + make_id(std::chrono::system_clock::now()) + "_" + std::to_string(n++);
    for (auto& ch : name_) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    PgRaw admin(pg_url());
    REQUIRE(admin.error_of("CREATE DATABASE " + name_) == "");
  }
  ~PgDatabase() {
    PgRaw admin(pg_url());
    (void)admin.error_of("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  }
  PgDatabase(const PgDatabase&) = delete;
  PgDatabase& operator=(const PgDatabase&) = delete;

  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] std::string url() const { return with_database(pg_url(), name_); }
  [[nodiscard]] PostgresOptions options() const {
    PostgresOptions o;
    o.url = url();
    return o;
  }

 private:
  std::string name_;
};

}  // namespace dh::store::testing
