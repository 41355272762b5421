#include "hub/store/pg_store.hpp"

#include "hub/store/operations.hpp"
#include "hub/store/pg.hpp"
#include "hub/store/row_format.hpp"
#include "hub/store/schema.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <stdexcept>

namespace dh::store {

namespace {

// One statement: the due entries that no other claim holds (SKIP LOCKED), leased. The candidates
// come from two partial indexes (pg_schema.cpp, migration 3): each target's first free entries
// (the targets found by a loose index scan), and leases that ran out. So a claim never walks the
// entries in flight or a backlog behind an open breaker (skipped targets), which a scan of
// outbox_by_due did on every poll. Each target's entries are read only up to a cut-off: the due
// time of the batch-th oldest first entry over all targets (every entry of the batch is due by
// then, since that many targets have one due by then), so a claim over hundreds of agencies reads
// about a batch of index entries rather than a batch per agency (200 targets x 200 entries: 12,800
// -> 64 rows, ~45 -> ~10 ms). A row that another instance leased and committed since this
// statement's snapshot is checked again on its new version (READ COMMITTED), so its fresh lease
// excludes it.
constexpr std::string_view kClaim =
    "WITH RECURSIVE targets AS ("
    "(SELECT target FROM outbox WHERE lease_until IS NULL ORDER BY target LIMIT 1) "
    "UNION ALL SELECT (SELECT o.target FROM outbox o WHERE o.lease_until IS NULL AND o.target > t.target "
    "ORDER BY o.target LIMIT 1) FROM targets t WHERE t.target IS NOT NULL), "
    "skip AS (SELECT jsonb_array_elements_text(?2::text::jsonb) AS target), "
    "heads AS (SELECT t.target, h.due_at, h.id FROM targets t CROSS JOIN LATERAL (SELECT o.due_at, o.id "
    "FROM outbox o WHERE o.lease_until IS NULL AND o.target = t.target AND o.due_at <= ?1 "
    "ORDER BY o.due_at, o.id LIMIT 1) h WHERE t.target IS NOT NULL AND t.target NOT IN (SELECT target FROM skip)), "
    "cutoff AS (SELECT COALESCE((SELECT due_at FROM heads ORDER BY due_at, id OFFSET ?3 - 1 LIMIT 1), ?1) AS due_at), "
    "candidates AS ("
    "SELECT f.id FROM heads h CROSS JOIN LATERAL (SELECT o.id FROM outbox o WHERE o.lease_until IS NULL "
    "AND o.target = h.target AND o.due_at <= ?1 AND o.due_at <= (SELECT due_at FROM cutoff) "
    "ORDER BY o.due_at, o.id LIMIT ?3) f "
    "WHERE h.due_at <= (SELECT due_at FROM cutoff) "
    "UNION ALL SELECT id FROM outbox WHERE lease_until IS NOT NULL AND lease_until <= ?1 "
    "AND target NOT IN (SELECT target FROM skip)), "
    "due AS (SELECT id FROM outbox WHERE id IN (SELECT id FROM candidates) AND due_at <= ?1 "
    "AND (lease_until IS NULL OR lease_until <= ?1) ORDER BY due_at, id LIMIT ?3 FOR UPDATE SKIP LOCKED), "
    "leased AS (UPDATE outbox SET lease_until = ?4 FROM due WHERE outbox.id = due.id "
    "RETURNING outbox.id, kind, target, hub_id, url, content_type, payload, due_at, attempts, last_error) "
    "SELECT * FROM leased ORDER BY due_at, id";

// Locks the migrations of every hub starting on this database at once (pg_advisory_xact_lock:
// released with the transaction).
constexpr const char* kBeginMigration = "BEGIN; SELECT pg_advisory_xact_lock(hashtext('dossier-hub:migrations'));";

// Every write transaction takes its turn at the audit chain first (pg_schema.cpp, audit_lock).
constexpr const char* kBeginWrite = "BEGIN; SELECT id FROM audit_lock WHERE id = 1 FOR UPDATE;";

pg::Settings settings_for(const PostgresOptions& o) {
  pg::Settings s;
  s.conninfo = o.url;
  s.connect_timeout = o.connect_timeout;
  s.statement_timeout = o.statement_timeout;
  return s;
}

// Runs `body` on `c` (connecting first when there is none). When it fails because `c`, taken
// from idle, had died meanwhile (a restarted server, a terminated backend), `body` runs once more
// on a new connection: its first statement found the connection gone, so nothing of it ran. (Were
// the server to fail during the statement instead, a second read is harmless, and a claim whose
// answer was lost leaves its entries leased until the lease ends.) Not after a timeout: the
// statement may still be running there.
template <class Body>
Outcome<void> once_more_if_stale(std::unique_ptr<pg::Connection>& c, const pg::Settings& settings, Body&& body) {
  const bool reused = c && !c->broken();
  for (int attempt = 0;; ++attempt) {
    if (!c || c->broken()) {
      c.reset();
      auto fresh = pg::Connection::open(settings);
      if (!fresh) return fresh.error();
      c = std::move(*fresh);
    }
    auto r = body(*c);
    if (r || !c->broken() || c->timed_out() || !reused || attempt > 0) return r;
  }
}

// The writer's connection: opened at start, opened again before a batch when it was lost.
class WriterConnection final : public WriteDb {
 public:
  WriterConnection(pg::Settings settings, std::unique_ptr<pg::Connection> c)
      : settings_(std::move(settings)), c_(std::move(c)) {}

  Outcome<void> begin() override {
    auto r = once_more_if_stale(c_, settings_, [](pg::Connection& c) { return c.exec_script(kBeginWrite); });
    if (!r) last_ = r.error();
    return r;
  }
  Outcome<void> each(std::string_view sql, Bind bind, EachRow row) override {
    if (!c_) return closed();
    return c_->each(sql, bind, row);
  }
  Outcome<std::int64_t> write(std::string_view sql, Bind bind) override {
    if (!c_) return closed();
    return c_->write(sql, bind);
  }
  Outcome<void> exec(std::string_view sql) override {
    if (!c_) return closed();
    return c_->exec(sql);
  }
  Outcome<void> exec_script(const char* sql) override {
    if (!c_) return closed();
    return c_->exec_script(sql);
  }
  Outcome<void> commit() override {
    if (!c_) return closed();
    return c_->commit();
  }
  [[nodiscard]] bool in_transaction() const override { return c_ && c_->in_transaction(); }
  [[nodiscard]] Error error(std::string_view what) const override {
    if (c_) return c_->error(what);
    return make_error("store: " + std::string(what) + ": " + last_.message);
  }

 private:
  Error closed() const { return make_error("store: no connection to PostgreSQL: " + last_.message); }

  pg::Settings settings_;
  std::unique_ptr<pg::Connection> c_;
  Error last_;
};

// At most `size` read connections, taken by the calling thread for one read (or claim) and given
// back; a caller finding none free waits, at most as long as a statement may take.
class ReadPool {
 public:
  ReadPool(pg::Settings settings, std::size_t size)
      : settings_(std::move(settings)), size_(std::max<std::size_t>(1, size)) {}

  Outcome<void> with(FunctionRef<Outcome<void>(Db&)> body) {
    std::unique_ptr<pg::Connection> c;
    {
      std::unique_lock lock(m_);
      const auto wait = settings_.connect_timeout + settings_.statement_timeout;
      if (!cv_.wait_for(lock, wait, [this] { return !idle_.empty() || open_ < size_; }))
        return make_error("store: no PostgreSQL read connection became free in time");
      if (!idle_.empty()) {
        c = std::move(idle_.back());
        idle_.pop_back();
      } else {
        ++open_;  // counted from here: a connection being opened is one of the `size`
      }
    }
    auto r = once_more_if_stale(c, settings_, [&](pg::Connection& conn) { return body(conn); });
    {
      std::lock_guard lock(m_);
      if (c && !c->broken())
        idle_.push_back(std::move(c));
      else
        --open_;
    }
    cv_.notify_one();
    return r;
  }

 private:
  pg::Settings settings_;
  std::size_t size_;
  std::mutex m_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<pg::Connection>> idle_;
  std::size_t open_ = 0;  // connections that exist or are being opened (idle ones included)
};

std::unique_ptr<pg::Connection> connect_and_migrate(const pg::Settings& settings) {
  auto c = pg::Connection::open(settings);
  if (!c) throw std::runtime_error(c.error().message);
  migrate(**c, pg_migrations(), kBeginMigration);
  return std::move(*c);
}

}  // namespace

class PgStore::Impl {
 public:
  explicit Impl(const PostgresOptions& o)
      : connection_(settings_for(o), connect_and_migrate(settings_for(o))),
        reads_(settings_for(o), o.read_connections),
        writer_(connection_, o.max_batch, "dh-store-write") {}

  WriterConnection connection_;  // the writer's, used by its thread only
  ReadPool reads_;
  Writer writer_;  // last: stops (finishing its queue) before the connection closes
};

PgStore::PgStore(const PostgresOptions& options) : impl_(std::make_unique<Impl>(options)) {}
PgStore::~PgStore() = default;

Outcome<std::vector<OutboxEntry>> PgStore::claim(Timestamp now, std::chrono::seconds lease, std::size_t limit,
                                                 const std::vector<std::string>& skip_targets) {
  const std::string now_text = to_db_time(now);
  Timestamp until = now;
  until.utc += lease;
  const std::string until_text = to_db_time(until);
  const std::string skip_json = ops::json_text_array(skip_targets);
  return read<std::vector<OutboxEntry>>([&](Db& c) -> Outcome<std::vector<OutboxEntry>> {
    std::vector<OutboxEntry> out;
    auto r = c.each(
        kClaim,
        [&](Params& q) { q.bind(1, now_text).bind(2, skip_json).bind(3, ops::as_int64(limit)).bind(4, until_text); },
        [&](const Row& q) { return ops::append_outbox_row(q, out); });
    if (!r) return r.error();
    return out;
  });
}

WriterStats PgStore::stats() const noexcept {
  return impl_->writer_.stats();
}

Writer& PgStore::writer() {
  return impl_->writer_;
}

Outcome<void> PgStore::with_reader(FunctionRef<Outcome<void>(Db&)> body) {
  return impl_->reads_.with(body);
}

Outcome<AuditCheck> verify_audit_postgres(const std::string& url) {
  PostgresOptions o;
  o.url = url;
  o.statement_timeout = std::chrono::hours(1);  // one statement reads the whole log
  auto c = pg::Connection::open(settings_for(o));
  if (!c) return c.error();
  return ops::verify_audit(**c);
}

}  // namespace dh::store
