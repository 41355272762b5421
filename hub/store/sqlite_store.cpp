// The SQLite store: the shared SQL logic (operations.hpp) through one Writer on the write
// connection (BEGIN IMMEDIATE ... COMMIT, one fsync per batch), reads on a pool of query_only
// connections, and its own claim: select the due entries, then lease them, inside the writer's
// transaction (SQLite has one writer, so no two claims ever see the same free entry).
#include "hub/store/sqlite_store.hpp"

#include "hub/store/operations.hpp"
#include "hub/store/schema.hpp"
#include "hub/store/sqlite.hpp"

#include <mutex>
#include <stdexcept>

namespace dh::store {

using sqlite::Connection;

namespace {

constexpr std::string_view kClaimable =
    "SELECT id, kind, target, hub_id, url, content_type, payload, due_at, attempts, last_error FROM outbox "
    "WHERE due_at <= ?1 AND (lease_until IS NULL OR lease_until <= ?1) "
    "AND target NOT IN (SELECT value FROM json_each(?2)) ORDER BY due_at, id LIMIT ?3";
constexpr std::string_view kLease = "UPDATE outbox SET lease_until = ?2 WHERE id = ?1";

Outcome<std::vector<OutboxEntry>> do_claim(Db& c, const Timestamp& now, std::chrono::seconds lease, std::size_t limit,
                                           const std::string& skip_json) {
  std::vector<OutboxEntry> out;
  const std::string now_text = to_db_time(now);
  auto r = c.each(
      kClaimable, [&](Params& q) { q.bind(1, now_text).bind(2, skip_json).bind(3, ops::as_int64(limit)); },
      [&](const Row& q) -> Outcome<void> {
        auto e = ops::outbox_row(q);
        if (!e) return e.error();
        out.push_back(std::move(*e));
        return {};
      });
  if (!r) return r.error();
  Timestamp until = now;
  until.utc += lease;
  const std::string until_text = to_db_time(until);
  for (const auto& e : out) {
    auto w = c.write(kLease, [&](Params& q) { q.bind(1, e.id).bind(2, until_text); });
    if (!w) return w.error();
  }
  return out;
}

// Read connections, taken by the calling thread for one read and given back.
class ReadPool {
 public:
  ReadPool(std::filesystem::path file, std::chrono::milliseconds busy_timeout)
      : file_(std::move(file)), busy_timeout_(busy_timeout) {}

  Outcome<void> with(FunctionRef<Outcome<void>(Db&)> body) {
    std::unique_ptr<Connection> c;
    {
      std::lock_guard lock(m_);
      if (!idle_.empty()) {
        c = std::move(idle_.back());
        idle_.pop_back();
      }
    }
    if (!c) {
      auto opened = Connection::open(file_, Connection::Mode::read, busy_timeout_);
      if (!opened) return opened.error();
      c = std::move(*opened);
    }
    auto r = body(*c);
    std::lock_guard lock(m_);
    if (idle_.size() < kMaxIdle) idle_.push_back(std::move(c));
    return r;
  }

 private:
  static constexpr std::size_t kMaxIdle = 8;  // more readers at once open more, closed after use

  std::filesystem::path file_;
  std::chrono::milliseconds busy_timeout_;
  std::mutex m_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

std::unique_ptr<Connection> open_writer(const SqliteOptions& o) {
  auto c = Connection::open(o.file, Connection::Mode::write, o.busy_timeout);
  if (!c) throw std::runtime_error(c.error().message);
  migrate(**c, migrations(), "BEGIN IMMEDIATE;");
  return std::move(*c);
}

}  // namespace

class SqliteStore::Impl {
 public:
  explicit Impl(const SqliteOptions& o)
      : connection_(open_writer(o)),
        reads_(o.file, o.busy_timeout),
        writer_(*connection_, o.max_batch, "dh-store-write") {}

  std::unique_ptr<Connection> connection_;  // the writer's, used by its thread only
  ReadPool reads_;
  Writer writer_;  // last: stops (finishing its queue) before the connection closes
};

SqliteStore::SqliteStore(const SqliteOptions& options) : impl_(std::make_unique<Impl>(options)) {}
SqliteStore::~SqliteStore() = default;

Outcome<std::vector<OutboxEntry>> SqliteStore::claim(Timestamp now, std::chrono::seconds lease, std::size_t limit,
                                                     const std::vector<std::string>& skip_targets) {
  return impl_->writer_.submit_and_wait<std::vector<OutboxEntry>>(
      [now, lease, limit, skip_json = ops::json_text_array(skip_targets)](Db& c) {
        return do_claim(c, now, lease, limit, skip_json);
      });
}

SqliteStats SqliteStore::stats() const noexcept {
  return impl_->writer_.stats();
}

Writer& SqliteStore::writer() {
  return impl_->writer_;
}

Outcome<void> SqliteStore::with_reader(FunctionRef<Outcome<void>(Db&)> body) {
  return impl_->reads_.with(body);
}

Outcome<AuditCheck> verify_audit_file(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) return make_error("store: " + file.string() + ": no such file");
  auto c = Connection::open(file, Connection::Mode::read_only, std::chrono::milliseconds(5000));
  if (!c) return c.error();
  return ops::verify_audit(**c);
}

}  // namespace dh::store
