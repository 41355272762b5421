// A thin layer over libpq for the PostgreSQL store. Every wait on the server has a deadline, so no
// call hangs on a server that stopped answering: connecting within the connect timeout, each
// statement within the statement timeout (the server's own, plus a client-side margin). Statements
// are prepared once per connection, their ?N placeholders written as $N; values are bound in
// binary, never written into SQL; rows come back one at a time, in binary. A connection whose
// socket failed says so (broken()): open another.
#pragma once

#include "hub/common/result.hpp"
#include "hub/store/db.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

struct pg_conn;
struct pg_result;

namespace dh::store::pg {

struct Settings {
  std::string conninfo;  // a postgresql:// URL or "key=value" pairs; never logged (it may hold a password)
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds statement_timeout{5000};
};

class Connection final : public WriteDb {
 public:
  // Connects, sets the statement timeout; "store: cannot connect to PostgreSQL: <libpq's reason>".
  static Outcome<std::unique_ptr<Connection>> open(const Settings& settings);
  ~Connection() override;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Outcome<void> each(std::string_view sql, Bind bind, EachRow row) override;
  Outcome<std::int64_t> write(std::string_view sql, Bind bind) override;
  Outcome<void> begin() override;  // BEGIN: READ COMMITTED, the server's default
  Outcome<void> exec(std::string_view sql) override;
  Outcome<void> exec_script(const char* sql) override;
  Outcome<void> commit() override;
  [[nodiscard]] bool in_transaction() const override;
  [[nodiscard]] Error error(std::string_view what) const override;

  // The connection is gone (the server closed it, a deadline passed): every call fails; open another.
  [[nodiscard]] bool broken() const noexcept;
  // It went because the server did not answer in time: what was sent may still be running there.
  [[nodiscard]] bool timed_out() const noexcept { return timed_out_; }

 private:
  Connection(pg_conn* conn, const Settings& settings) noexcept;
  // Sends `sql` with `bind`'s values (prepared on first use) and reads every result; each row
  // goes to `row` when given. Answers the last result's command status.
  Outcome<std::string> run(std::string_view sql, Bind bind, EachRow* row);
  // A script in the simple query protocol; answers the last command status.
  Outcome<std::string> run_simple(const char* sql);
  // Reads the results of what was sent, within the deadline; rows go to `row` when given.
  Outcome<std::string> collect(std::chrono::steady_clock::time_point deadline, EachRow* row);
  Outcome<void> flush(std::chrono::steady_clock::time_point deadline);
  [[nodiscard]] std::chrono::steady_clock::time_point deadline() const;
  Error fail(std::string message);  // records and answers an error
  Error lose(std::string message);  // closes the connection, records and answers an error
  Error time_out();                 // lose(), because the deadline passed

  pg_conn* conn_;
  std::chrono::milliseconds statement_timeout_;
  std::unordered_map<std::string_view, std::string> prepared_;  // static SQL text -> statement name
  std::string last_error_;
  bool timed_out_ = false;
};

}  // namespace dh::store::pg
