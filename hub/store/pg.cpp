#include "hub/store/pg.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <libpq-fe.h>
#include <optional>
#include <poll.h>

namespace dh::store::pg {

namespace {

using Clock = std::chrono::steady_clock;

// Type oids of the values the store binds (pg_type.h).
constexpr Oid kBytea = 17;
constexpr Oid kInt8 = 20;
constexpr Oid kText = 25;

// A statement's answer may take this much longer than the server's statement_timeout before the
// client gives up on the connection: the server cancels the statement itself, and says so.
constexpr std::chrono::milliseconds kClientMargin{1000};

std::string first_line(const char* text) {
  std::string s = text ? text : "";
  if (auto nl = s.find('\n'); nl != std::string::npos) s.erase(nl);
  return s.empty() ? std::string("no reason given") : s;
}

// The server's primary message and SQLSTATE, without DETAIL: a detail can quote the values of a
// row (a duplicate key), and values can be personal data.
std::string server_message(const PGresult* r) {
  const char* primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
  const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  std::string s = primary ? std::string(primary) : first_line(PQresultErrorMessage(r));
  if (state) s.append(" (SQLSTATE ").append(state).append(")");
  return s;
}

class Result {
 public:
  explicit Result(PGresult* r) noexcept : r_(r) {}
  ~Result() { PQclear(r_); }
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;
  explicit operator bool() const noexcept { return r_ != nullptr; }
  [[nodiscard]] const PGresult* get() const noexcept { return r_; }

 private:
  PGresult* r_;
};

class ResultRow final : public Row {
 public:
  ResultRow(const PGresult* r, int row) noexcept : r_(r), row_(row) {}

  [[nodiscard]] std::string text(int col) const override {
    if (PQgetisnull(r_, row_, col)) return {};
    return std::string(PQgetvalue(r_, row_, col), static_cast<std::size_t>(PQgetlength(r_, row_, col)));
  }
  [[nodiscard]] std::optional<std::string> opt_text(int col) const override {
    if (PQgetisnull(r_, row_, col)) return std::nullopt;
    return text(col);
  }
  // Binary integers are big-endian, 2, 4 or 8 bytes by their type (smallint, integer, bigint).
  [[nodiscard]] std::int64_t int64(int col) const override {
    if (PQgetisnull(r_, row_, col)) return 0;
    const auto* p = reinterpret_cast<const unsigned char*>(PQgetvalue(r_, row_, col));
    const int n = PQgetlength(r_, row_, col);
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
    switch (n) {
      case 2:
        return static_cast<std::int16_t>(v);
      case 4:
        return static_cast<std::int32_t>(v);
      default:
        return static_cast<std::int64_t>(v);
    }
  }

 private:
  const PGresult* r_;
  int row_;
};

// A statement's values, all in binary with their types, so that text travels with its length
// (a NUL in it is refused by the server, never a silent cut) and integers as integers.
class Values final : public Params {
 public:
  Values& bind(int i, std::string_view text) override { return set(i, text, kText); }
  Values& bind(int i, std::int64_t v) override {
    std::array<char, 8> be{};
    for (int b = 0; b < 8; ++b) be[static_cast<std::size_t>(b)] = static_cast<char>((v >> (56 - 8 * b)) & 0xff);
    return set(i, std::string_view(be.data(), be.size()), kInt8);
  }
  Values& bind_blob(int i, std::string_view bytes) override { return set(i, bytes, kBytea); }
  Values& bind_null(int i) override {
    if (auto* v = slot(i)) *v = Value{{}, 0, true, true};
    return *this;
  }

  Outcome<void> check() const {
    if (bad_index_) return make_error("store: a value was bound to a placeholder that does not exist");
    for (const auto& v : values_)
      if (!v.set) return make_error("store: a placeholder has no value bound");
    return {};
  }
  [[nodiscard]] int size() const noexcept { return static_cast<int>(values_.size()); }
  [[nodiscard]] std::vector<Oid> types() const {
    std::vector<Oid> t;
    for (const auto& v : values_) t.push_back(v.type);
    return t;
  }
  // The arrays PQsendQueryPrepared takes; valid while this object lives unchanged.
  void arrays(std::vector<const char*>& data, std::vector<int>& lengths, std::vector<int>& formats) const {
    for (const auto& v : values_) {
      data.push_back(v.null ? nullptr : v.bytes.data());
      lengths.push_back(static_cast<int>(v.bytes.size()));
      formats.push_back(1);
    }
  }

 private:
  struct Value {
    std::string bytes;
    Oid type = 0;  // 0: let the server infer it (NULL)
    bool null = true;
    bool set = false;
  };

  Value* slot(int i) {
    if (i < 1 || i > 100) {
      bad_index_ = true;
      return nullptr;
    }
    if (values_.size() < static_cast<std::size_t>(i)) values_.resize(static_cast<std::size_t>(i));
    return &values_[static_cast<std::size_t>(i - 1)];
  }
  Values& set(int i, std::string_view bytes, Oid type) {
    if (auto* v = slot(i)) *v = Value{std::string(bytes), type, false, true};
    return *this;
  }

  std::vector<Value> values_;
  bool bad_index_ = false;
};

// The store's statements use ?N (SQLite's form); PostgreSQL's is $N. No statement has a '?'
// anywhere else (no JSON operators, no literals with one).
std::string dollar_placeholders(std::string_view sql) {
  std::string out(sql);
  for (std::size_t i = 0; i + 1 < out.size(); ++i)
    if (out[i] == '?' && out[i + 1] >= '0' && out[i + 1] <= '9') out[i] = '$';
  return out;
}

// Waits until `fd` is ready for `events`; false when the deadline passed first.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 60'000)));
    if (n > 0) return true;  // ready, or an error/hang-up that the next read reports
    if (n < 0 && errno != EINTR) return true;
  }
}

}  // namespace

Outcome<std::unique_ptr<Connection>> Connection::open(const Settings& settings) {
  const auto deadline = Clock::now() + settings.connect_timeout;
  // Keywords are processed in order, later ones winning: the URL may name the application, the
  // encoding is the store's.
  const std::array<const char*, 4> keys{"application_name", "dbname", "client_encoding", nullptr};
  const std::array<const char*, 4> values{"dossier-hub", settings.conninfo.c_str(), "UTF8", nullptr};
  PGconn* c = PQconnectStartParams(keys.data(), values.data(), 1);
  if (!c) return make_error("store: cannot connect to PostgreSQL: out of memory");
  auto refuse = [c](std::string why) {
    PQfinish(c);
    return make_error("store: cannot connect to PostgreSQL: " + why);
  };
  if (PQstatus(c) == CONNECTION_BAD) return refuse(first_line(PQerrorMessage(c)));
  for (PostgresPollingStatusType st = PGRES_POLLING_WRITING;;) {
    if (st == PGRES_POLLING_OK) break;
    if (st == PGRES_POLLING_FAILED) return refuse(first_line(PQerrorMessage(c)));
    const short events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
    if (!wait_for(PQsocket(c), events, deadline))
      return refuse("no answer within the connect timeout (" + std::to_string(settings.connect_timeout.count()) +
                    " ms)");
    st = PQconnectPoll(c);
  }
  if (PQsetnonblocking(c, 1) != 0) return refuse("cannot make the connection non-blocking");
  // The server's notices ("relation already exists, skipping") are not failures: not printed.
  PQsetNoticeProcessor(
      c, [](void*, const char*) {}, nullptr);
  std::unique_ptr<Connection> conn(new Connection(c, settings));
  const std::string set_timeout = "SET statement_timeout = " + std::to_string(settings.statement_timeout.count());
  if (auto r = conn->run_simple(set_timeout.c_str()); !r)
    return make_error("store: cannot connect to PostgreSQL: " + conn->last_error_);
  return conn;
}

Connection::Connection(pg_conn* conn, const Settings& settings) noexcept
    : conn_(conn), statement_timeout_(settings.statement_timeout) {}

Connection::~Connection() {
  if (conn_) PQfinish(conn_);
}

bool Connection::broken() const noexcept {
  return !conn_ || PQstatus(conn_) == CONNECTION_BAD;
}

Clock::time_point Connection::deadline() const {
  return Clock::now() + statement_timeout_ + kClientMargin;
}

Error Connection::fail(std::string message) {
  last_error_ = std::move(message);
  return make_error("store: statement failed: " + last_error_);
}

Error Connection::lose(std::string message) {
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
  prepared_.clear();
  return fail("the connection to PostgreSQL was lost: " + message);
}

Error Connection::time_out() {
  timed_out_ = true;
  return lose("no answer within the statement timeout");
}

Error Connection::error(std::string_view what) const {
  return make_error("store: " + std::string(what) + ": " + (last_error_.empty() ? "no reason given" : last_error_));
}

Outcome<void> Connection::flush(Clock::time_point deadline) {
  for (;;) {
    const int f = PQflush(conn_);
    if (f == 0) return {};
    if (f < 0) return lose(first_line(PQerrorMessage(conn_)));
    if (!wait_for(PQsocket(conn_), POLLIN | POLLOUT, deadline)) return time_out();
    if (!PQconsumeInput(conn_)) return lose(first_line(PQerrorMessage(conn_)));
  }
}

Outcome<std::string> Connection::collect(Clock::time_point deadline, EachRow* row) {
  if (auto f = flush(deadline); !f) return f.error();
  std::optional<Error> failed;
  std::string status;
  for (;;) {
    while (PQisBusy(conn_)) {
      if (!wait_for(PQsocket(conn_), POLLIN, deadline)) return time_out();
      if (!PQconsumeInput(conn_)) return lose(first_line(PQerrorMessage(conn_)));
    }
    const Result r(PQgetResult(conn_));
    if (!r) break;
    switch (PQresultStatus(r.get())) {
      case PGRES_SINGLE_TUPLE:
      case PGRES_TUPLES_OK:
        for (int i = 0; row && !failed && i < PQntuples(r.get()); ++i)
          if (auto x = (*row)(ResultRow(r.get(), i)); !x) failed = x.error();
        status = PQcmdStatus(const_cast<PGresult*>(r.get()));
        break;
      case PGRES_COMMAND_OK:
        status = PQcmdStatus(const_cast<PGresult*>(r.get()));
        break;
      case PGRES_EMPTY_QUERY:
        break;
      default:  // errors; COPY never happens here
        if (!failed) failed = fail(server_message(r.get()));
        break;
    }
  }
  if (failed) return *failed;
  return status;
}

Outcome<std::string> Connection::run(std::string_view sql, Bind bind, EachRow* row) {
  if (broken()) return fail("the connection to PostgreSQL is closed");
  Values values;
  bind(values);
  if (auto ok = values.check(); !ok) return ok.error();
  const auto until = deadline();
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string name = "dh_" + std::to_string(prepared_.size() + 1);
    const std::string text = dollar_placeholders(sql);
    const std::vector<Oid> types = values.types();
    if (!PQsendPrepare(conn_, name.c_str(), text.c_str(), values.size(), types.data()))
      return lose(first_line(PQerrorMessage(conn_)));
    if (auto r = collect(until, nullptr); !r) return r.error();
    it = prepared_.emplace(sql, std::move(name)).first;
  }
  std::vector<const char*> data;
  std::vector<int> lengths, formats;
  values.arrays(data, lengths, formats);
  if (!PQsendQueryPrepared(conn_, it->second.c_str(), values.size(), data.data(), lengths.data(), formats.data(), 1))
    return lose(first_line(PQerrorMessage(conn_)));
  if (row) PQsetSingleRowMode(conn_);  // rows one at a time: an audit log of any length reads in little memory
  return collect(until, row);
}

Outcome<std::string> Connection::run_simple(const char* sql) {
  if (broken()) return fail("the connection to PostgreSQL is closed");
  if (!PQsendQuery(conn_, sql)) return lose(first_line(PQerrorMessage(conn_)));
  return collect(deadline(), nullptr);
}

Outcome<void> Connection::each(std::string_view sql, Bind bind, EachRow row) {
  auto r = run(sql, bind, &row);
  if (!r) return r.error();
  return {};
}

Outcome<std::int64_t> Connection::write(std::string_view sql, Bind bind) {
  auto r = run(sql, bind, nullptr);
  if (!r) return r.error();
  // "INSERT 0 3", "UPDATE 2", "DELETE 1": the count is the last word.
  const auto space = r->rfind(' ');
  std::int64_t n = 0;
  if (space != std::string::npos)
    for (char ch : r->substr(space + 1))
      if (ch >= '0' && ch <= '9') n = n * 10 + (ch - '0');
  return n;
}

Outcome<void> Connection::begin() {
  return exec("BEGIN");
}

Outcome<void> Connection::exec(std::string_view sql) {
  auto r = run_simple(std::string(sql).c_str());
  if (!r) return r.error();
  return {};
}

Outcome<void> Connection::exec_script(const char* sql) {
  auto r = run_simple(sql);
  if (!r) return r.error();
  return {};
}

Outcome<void> Connection::commit() {
  auto r = run_simple("COMMIT");
  if (!r) return r.error();
  // COMMIT of a transaction that had failed answers ROLLBACK, without an error.
  if (*r != "COMMIT") return fail("the transaction was rolled back, not committed");
  return {};
}

bool Connection::in_transaction() const {
  if (broken()) return false;
  const auto s = PQtransactionStatus(conn_);
  return s == PQTRANS_INTRANS || s == PQTRANS_INERROR || s == PQTRANS_ACTIVE;
}

}  // namespace dh::store::pg
