#include "hub/store/schema.hpp"

#include "hub/observability/log.hpp"
#include "hub/store/row_format.hpp"

#include <array>
#include <stdexcept>

namespace dh::store {
namespace {

// Times are RFC 3339 UTC text with nine fraction digits (row_format.hpp): sortable as text.
constexpr const char* kInitialSchema = R"sql(
CREATE TABLE messages (
  id              TEXT PRIMARY KEY,
  agency_id       TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  sha256          TEXT NOT NULL,
  content_type    TEXT NOT NULL,
  message_type    TEXT NOT NULL,
  body            BLOB NOT NULL,
  request_id      TEXT NOT NULL,
  received_at     TEXT NOT NULL,
  answer_json     TEXT NOT NULL,
  UNIQUE (agency_id, idempotency_key)
);

CREATE TABLE dossiers (
  hub_id       TEXT PRIMARY KEY,
  agency_id    TEXT NOT NULL,
  dossier_code TEXT NOT NULL,
  status       TEXT NOT NULL,
  dossier_json TEXT NOT NULL,
  order_id     TEXT,
  item_code    TEXT,
  message_id   TEXT NOT NULL REFERENCES messages (id),
  route_flags  TEXT NOT NULL,
  updated_at   TEXT NOT NULL
);
CREATE INDEX dossiers_by_code ON dossiers (agency_id, dossier_code);
CREATE UNIQUE INDEX dossiers_by_order ON dossiers (order_id) WHERE order_id IS NOT NULL;

CREATE TABLE status_events (
  seq         INTEGER PRIMARY KEY,
  event_id    TEXT NOT NULL UNIQUE,
  hub_id      TEXT NOT NULL REFERENCES dossiers (hub_id),
  order_id    TEXT NOT NULL,
  item_code   TEXT,
  status      TEXT NOT NULL,
  occurred_at TEXT NOT NULL,
  reason      TEXT,
  received_at TEXT NOT NULL,
  applied     INTEGER NOT NULL CHECK (applied IN (0, 1))
);
CREATE INDEX status_events_by_dossier ON status_events (hub_id, occurred_at);

CREATE TABLE outbox (
  id           TEXT PRIMARY KEY,
  kind         TEXT NOT NULL CHECK (kind IN ('postal_order', 'agency_callback')),
  target       TEXT NOT NULL,
  hub_id       TEXT NOT NULL REFERENCES dossiers (hub_id),
  url          TEXT NOT NULL,
  content_type TEXT NOT NULL,
  payload      BLOB NOT NULL,
  due_at       TEXT NOT NULL,
  lease_until  TEXT,
  attempts     INTEGER NOT NULL,
  last_error   TEXT NOT NULL
);
CREATE INDEX outbox_by_due ON outbox (due_at);

CREATE TABLE dead_letters (
  id           TEXT PRIMARY KEY,
  kind         TEXT NOT NULL CHECK (kind IN ('postal_order', 'agency_callback')),
  target       TEXT NOT NULL,
  hub_id       TEXT NOT NULL REFERENCES dossiers (hub_id),
  url          TEXT NOT NULL,
  content_type TEXT NOT NULL,
  payload      BLOB NOT NULL,
  due_at       TEXT NOT NULL,
  attempts     INTEGER NOT NULL,
  last_error   TEXT NOT NULL,
  reason       TEXT NOT NULL,
  dead_at      TEXT NOT NULL
);
CREATE INDEX dead_letters_by_time ON dead_letters (dead_at);

CREATE TABLE rejections (
  id           TEXT PRIMARY KEY,
  agency_id    TEXT NOT NULL,
  sha256       TEXT NOT NULL,
  problem_type TEXT NOT NULL,
  problem_json TEXT NOT NULL,
  body         BLOB NOT NULL,
  received_at  TEXT NOT NULL
);
CREATE INDEX rejections_by_time ON rejections (received_at);

-- Append-only and hash-chained: the triggers stop accidents, the chain shows deliberate changes.
CREATE TABLE audit (
  seq       INTEGER PRIMARY KEY,
  at        TEXT NOT NULL,
  actor     TEXT NOT NULL,
  action    TEXT NOT NULL,
  subject   TEXT NOT NULL,
  detail    TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash      TEXT NOT NULL
);
CREATE INDEX audit_by_subject ON audit (subject);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

-- One row the writer rewrites to find out whether the file takes writes again (healthy()).
CREATE TABLE health (
  id        INTEGER PRIMARY KEY CHECK (id = 1),
  probed_at TEXT NOT NULL
);
)sql";

// Status changes rewrote the whole dossier row (its JSON is 1-2 KB) to change three columns:
// the changing part moves to a narrow table of its own (docs/performance.md, "Fourth pass").
constexpr const char* kDossierState = R"sql(
CREATE TABLE dossier_state (
  hub_id     TEXT PRIMARY KEY REFERENCES dossiers (hub_id),
  status     TEXT NOT NULL,
  item_code  TEXT,
  updated_at TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO dossier_state (hub_id, status, item_code, updated_at)
  SELECT hub_id, status, item_code, updated_at FROM dossiers;
ALTER TABLE dossiers DROP COLUMN status;
ALTER TABLE dossiers DROP COLUMN item_code;
ALTER TABLE dossiers DROP COLUMN updated_at;
)sql";

// The claim walked outbox_by_due from the oldest entry and skipped, row by row, the entries in
// flight and those of targets behind an open breaker: during an outage of the postal core that
// was the whole backlog on every poll. Free and leased entries now have an index each
// (sqlite_store.cpp, the claim), and a claim reads only what it takes.
constexpr const char* kOutboxClaimIndexes = R"sql(
DROP INDEX outbox_by_due;
CREATE INDEX outbox_free ON outbox (target, due_at, id) WHERE lease_until IS NULL;
CREATE INDEX outbox_leased ON outbox (lease_until) WHERE lease_until IS NOT NULL;
)sql";

constexpr std::array kMigrations{
    Migration{1, "messages, dossiers, status events, outbox, dead letters, rejections, audit", kInitialSchema},
    Migration{2, "dossier status in a table of its own", kDossierState},
    Migration{3, "outbox indexes for a claim that reads only what it takes", kOutboxClaimIndexes},
};

[[noreturn]] void fail(const Error& e) {
  throw std::runtime_error(e.message);
}

template <class T>
T check(Outcome<T> r) {
  if (!r) fail(r.error());
  if constexpr (!std::is_void_v<T>) return std::move(*r);
}

}  // namespace

std::span<const Migration> migrations() {
  return kMigrations;
}

void migrate(WriteDb& c, std::span<const Migration> list, const char* begin) {
  auto in_transaction = [&](auto&& body) {
    check(c.exec_script(begin));
    try {
      body();
      check(c.commit());
    } catch (const std::runtime_error&) {
      if (c.in_transaction()) (void)c.exec("ROLLBACK");
      throw;
    }
  };
  auto applied = [&c](int version) {
    bool found = false;
    check(c.each(
        "SELECT 1 FROM schema_migrations WHERE version = ?1", [&](Params& q) { q.bind(1, std::int64_t{version}); },
        [&](const Row&) -> Outcome<void> {
          found = true;
          return {};
        }));
    return found;
  };
  in_transaction([&] {
    check(c.exec_script(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);"));
  });
  std::int64_t newest = 0;
  check(c.each(
      "SELECT max(version) FROM schema_migrations", [](Params&) {},
      [&](const Row& q) -> Outcome<void> {
        newest = q.int64(0);
        return {};
      }));
  if (newest > list.back().version)
    throw std::runtime_error("store: the database has schema version " + std::to_string(newest) +
                             ", newer than this hub knows (" + std::to_string(list.back().version) +
                             "): run a newer hub");
  for (const auto& m : list) {
    if (applied(m.version)) continue;
    try {
      // Checked again inside the transaction: another hub may have migrated meanwhile.
      bool ran = false;
      in_transaction([&] {
        if (applied(m.version)) return;
        check(c.exec_script(m.sql));
        check(c.write("INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                      [&](Params& q) { q.bind(1, std::int64_t{m.version}).bind(2, to_db_time(wall_clock())); }));
        ran = true;
      });
      if (ran) obs::Log::info("store_migrated", {{"version", std::to_string(m.version)}, {"migration", m.description}});
    } catch (const std::runtime_error& e) {
      throw std::runtime_error("store: migration " + std::to_string(m.version) + " (" + std::string(m.description) +
                               ") failed: " + e.what());
    }
  }
}

}  // namespace dh::store
