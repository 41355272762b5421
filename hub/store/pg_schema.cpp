// The PostgreSQL schema: the same tables as SQLite's (schema.cpp), in PostgreSQL's dialect.
// Times and ids are text in the "C" collation, so that text order is time order (row_format.hpp)
// whatever the database's locale; bodies and payloads are bytea.
#include "hub/store/schema.hpp"

#include <array>

namespace dh::store {
namespace {

constexpr const char* kInitialSchema = R"sql(
CREATE TABLE messages (
  id              TEXT COLLATE "C" PRIMARY KEY,
  agency_id       TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  sha256          TEXT NOT NULL,
  content_type    TEXT NOT NULL,
  message_type    TEXT NOT NULL,
  body            BYTEA NOT NULL,
  request_id      TEXT NOT NULL,
  received_at     TEXT COLLATE "C" NOT NULL,
  answer_json     TEXT NOT NULL,
  UNIQUE (agency_id, idempotency_key)
);

CREATE TABLE dossiers (
  hub_id       TEXT COLLATE "C" PRIMARY KEY,
  agency_id    TEXT NOT NULL,
  dossier_code TEXT NOT NULL,
  status       TEXT NOT NULL,
  dossier_json TEXT NOT NULL,
  order_id     TEXT COLLATE "C",
  item_code    TEXT,
  message_id   TEXT COLLATE "C" NOT NULL REFERENCES messages (id),
  route_flags  TEXT NOT NULL,
  updated_at   TEXT COLLATE "C" NOT NULL
);
CREATE INDEX dossiers_by_code ON dossiers (agency_id, dossier_code);
CREATE UNIQUE INDEX dossiers_by_order ON dossiers (order_id) WHERE order_id IS NOT NULL;

CREATE TABLE status_events (
  seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id    TEXT NOT NULL UNIQUE,
  hub_id      TEXT COLLATE "C" NOT NULL REFERENCES dossiers (hub_id),
  order_id    TEXT COLLATE "C" NOT NULL,
  item_code   TEXT,
  status      TEXT NOT NULL,
  occurred_at TEXT COLLATE "C" NOT NULL,
  reason      TEXT,
  received_at TEXT COLLATE "C" NOT NULL,
  applied     INTEGER NOT NULL CHECK (applied IN (0, 1))
);
CREATE INDEX status_events_by_dossier ON status_events (hub_id, occurred_at);

CREATE TABLE outbox (
  id           TEXT COLLATE "C" PRIMARY KEY,
  kind         TEXT NOT NULL CHECK (kind IN ('postal_order', 'agency_callback')),
  target       TEXT NOT NULL,
  hub_id       TEXT COLLATE "C" NOT NULL REFERENCES dossiers (hub_id),
  url          TEXT NOT NULL,
  content_type TEXT NOT NULL,
  payload      BYTEA NOT NULL,
  due_at       TEXT COLLATE "C" NOT NULL,
  lease_until  TEXT COLLATE "C",
  attempts     INTEGER NOT NULL,
  last_error   TEXT NOT NULL
);
CREATE INDEX outbox_by_due ON outbox (due_at);

CREATE TABLE dead_letters (
  id           TEXT COLLATE "C" PRIMARY KEY,
  kind         TEXT NOT NULL CHECK (kind IN ('postal_order', 'agency_callback')),
  target       TEXT NOT NULL,
  hub_id       TEXT COLLATE "C" NOT NULL REFERENCES dossiers (hub_id),
  url          TEXT NOT NULL,
  content_type TEXT NOT NULL,
  payload      BYTEA NOT NULL,
  due_at       TEXT COLLATE "C" NOT NULL,
  attempts     INTEGER NOT NULL,
  last_error   TEXT NOT NULL,
  reason       TEXT NOT NULL,
  dead_at      TEXT COLLATE "C" NOT NULL
);
CREATE INDEX dead_letters_by_time ON dead_letters (dead_at);

CREATE TABLE rejections (
  id           TEXT COLLATE "C" PRIMARY KEY,
  agency_id    TEXT NOT NULL,
  sha256       TEXT NOT NULL,
  problem_type TEXT NOT NULL,
  problem_json TEXT NOT NULL,
  body         BYTEA NOT NULL,
  received_at  TEXT COLLATE "C" NOT NULL
);
CREATE INDEX rejections_by_time ON rejections (received_at);

-- Append-only and hash-chained: the triggers stop accidents, the chain shows deliberate changes.
CREATE TABLE audit (
  seq       BIGINT PRIMARY KEY,
  at        TEXT NOT NULL,
  actor     TEXT NOT NULL,
  action    TEXT NOT NULL,
  subject   TEXT COLLATE "C" NOT NULL,
  detail    TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash      TEXT NOT NULL
);
CREATE INDEX audit_by_subject ON audit (subject);
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only';
END
$$;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();

-- Every write transaction of every hub instance locks this one row first (FOR UPDATE), so that
-- the audit chain grows one entry at a time across instances: each append reads the last entry
-- and writes the next, and no other transaction can append in between.
CREATE TABLE audit_lock (
  id INTEGER PRIMARY KEY CHECK (id = 1)
);
INSERT INTO audit_lock (id) VALUES (1);

-- One row the writer rewrites to find out whether the database takes writes again (healthy()).
CREATE TABLE health (
  id        INTEGER PRIMARY KEY CHECK (id = 1),
  probed_at TEXT NOT NULL
);
)sql";

// The same change as the SQLite schema's migration 2: a dossier's changing part in a narrow table.
constexpr const char* kDossierState = R"sql(
CREATE TABLE dossier_state (
  hub_id     TEXT COLLATE "C" PRIMARY KEY REFERENCES dossiers (hub_id),
  status     TEXT NOT NULL,
  item_code  TEXT,
  updated_at TEXT COLLATE "C" NOT NULL
);
INSERT INTO dossier_state (hub_id, status, item_code, updated_at)
  SELECT hub_id, status, item_code, updated_at FROM dossiers;
ALTER TABLE dossiers DROP COLUMN status, DROP COLUMN item_code, DROP COLUMN updated_at;
)sql";

// As in schema.cpp (migration 3): free and leased entries have an index each, for a claim that
// reads only what it takes (pg_store.cpp, kClaim).
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

}  // namespace

std::span<const Migration> pg_migrations() {
  return kMigrations;
}

}  // namespace dh::store
