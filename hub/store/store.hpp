// The hub's durable state: raw messages with their idempotency keys, dossiers, status events,
// the outbox of work still to do, dead letters, rejected messages, and a hash-chained audit log.
//
// Delivery semantics: accept() returns only after the message, its dossiers, their outbox entries
// and an audit entry are committed durably (fsync) in one transaction, or after it finds that the
// same (agency, idempotency key) was committed before, in which case it returns the first answer
// and writes nothing. Outbox entries are claimed with a lease: an entry whose lease expires (the
// instance died) is claimed again, so work is done at least once; the postal core and agencies
// deduplicate by the idempotency key each entry carries, which makes it exactly once per key.
//
// Writes go through one writer (group commit: many requests share one fsync); completion
// callbacks run on the writer's thread and must only hand the result over (post it to an
// executor), never block or call the store. Reads may run on the caller's thread.
#pragma once

#include "hub/common/result.hpp"
#include "hub/common/time.hpp"
#include "hub/dossier/dossier.hpp"
#include "hub/dossier/status.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dh::store {

// ---------------------------------------------------------------- records

struct Message {
  std::string id;  // hub id of the raw message (the receipt)
  std::string agency_id;
  std::string idempotency_key;  // Idempotency-Key header, else source.message_id, else sha256
  std::string sha256;           // hex of body
  std::string content_type;
  std::string message_type;  // the mapping's message type
  std::string body;          // the raw bytes, as received
  std::string request_id;
  Timestamp received_at;
};

// Work to do after the commit, claimed by a dispatcher.
enum class OutboxKind { postal_order, agency_callback };
std::string_view to_string(OutboxKind k) noexcept;

struct OutboxEntry {
  std::string id;  // unique; also the idempotency key sent with the request
  OutboxKind kind = OutboxKind::postal_order;
  std::string target;  // postal endpoint name, or the agency id for callbacks
  std::string hub_id;  // the dossier it is about
  std::string url;     // where to send it (callbacks: the mapping's URL; orders: the endpoint's)
  std::string content_type;
  std::string payload;     // the request body, rendered before the commit
  Timestamp due_at;        // not before
  int attempts = 0;        // failed attempts so far
  std::string last_error;  // safe text: status code or network error, never a body
};

// A dossier as stored: the canonical dossier (with hub_id, received_at, status, route set) plus
// what the hub learnt about it since.
struct StoredDossier {
  Dossier dossier;
  Status status = Status::accepted;
  std::optional<std::string> order_id;   // the intake order's id (= its outbox entry id)
  std::optional<std::string> item_code;  // postal waybill, once the order was delivered
  std::string message_id;                // the raw message it came from
  std::vector<std::string> route_flags;  // "unknown_unit", "split_ward", ... for a person to see
};

struct StatusEvent {
  std::string event_id;  // the postal core's id: repeats change nothing
  std::string hub_id;
  std::string order_id;
  std::optional<std::string> item_code;
  Status status = Status::accepted;
  Timestamp occurred_at;
  std::optional<std::string> reason;
  Timestamp received_at;
  bool applied = false;  // whether it moved the dossier's status (false: late, repeated, out of order)
};

struct DeadLetter {
  std::string id;      // the outbox entry id it came from
  OutboxEntry entry;   // as it was when given up
  std::string reason;  // safe text
  Timestamp dead_at;
};

struct Rejection {
  std::string id;
  std::string agency_id;  // "" when the partner was not identified
  std::string sha256;
  std::string problem_type;
  std::string problem_json;  // the RFC 9457 answer given
  std::string body;          // the raw bytes, at most the edge's body limit
  Timestamp received_at;
};

struct AuditEntry {
  std::int64_t seq = 0;
  Timestamp at;
  std::string actor;    // "edge", "dispatcher", "admin:<who>"
  std::string action;   // "accept", "order_delivered", "dead_letter", "redrive", "discard", ...
  std::string subject;  // an id: message, dossier, outbox entry
  std::string detail;   // safe text, no personal data
  std::string prev_hash;
  std::string hash;  // SHA-256 over prev_hash and the fields above
};

// ---------------------------------------------------------------- requests and answers

struct AcceptRequest {
  Message message;
  std::vector<StoredDossier> dossiers;  // hub_id, status, route already assigned
  std::vector<OutboxEntry> outbox;      // the intake orders (one per dossier)
  std::string answer_json;              // the 202 body, kept for duplicates
};

struct AcceptResult {
  bool duplicate = false;
  std::string answer_json;  // this request's answer, or the first one's for a duplicate
};

// Called inside apply_event's transaction when the event moves the dossier: returns the callback
// outbox entries to commit with it (pure: it renders with the agency's mapping, nothing else).
using CallbackMaker = std::function<std::vector<OutboxEntry>(const StoredDossier& before, const StatusEvent& event)>;

enum class EventOutcome { applied, recorded, duplicate, unknown_order };
std::string_view to_string(EventOutcome o) noexcept;

// The outcome of one delivery attempt, as the dispatcher decided it.
struct Delivered {
  std::optional<std::string> item_code;  // postal orders: the waybill the postal core assigned
};

struct AuditCheck {
  bool ok = true;
  std::int64_t entries = 0;
  std::optional<std::int64_t> first_bad_seq;  // where the chain breaks
};

template <class T>
using Done = std::function<void(Outcome<T>)>;

// ---------------------------------------------------------------- the store

class Store {
 public:
  virtual ~Store() = default;

  // --- the edge
  virtual void accept(AcceptRequest request, Done<AcceptResult> done) = 0;
  virtual void record_rejection(Rejection rejection, Done<void> done) = 0;
  virtual Outcome<std::optional<StoredDossier>> dossier(std::string_view hub_id) = 0;
  virtual Outcome<std::vector<StoredDossier>> dossiers_by_code(std::string_view agency_id,
                                                               std::string_view dossier_code) = 0;
  virtual Outcome<std::vector<StatusEvent>> history(std::string_view hub_id) = 0;

  // --- the status loop: records the event (always, unless its event_id was seen), moves the
  // dossier's status when status rules allow, and commits the callbacks `make` returns with it.
  virtual void apply_event(StatusEvent event, CallbackMaker make, Done<EventOutcome> done) = 0;

  // --- the dispatcher
  // Claims up to `limit` entries due at `now` whose lease is free or expired, leasing them until
  // now + lease. Entries of targets in `skip_targets` (open circuit breakers) are left alone.
  virtual Outcome<std::vector<OutboxEntry>> claim(Timestamp now, std::chrono::seconds lease, std::size_t limit,
                                                  const std::vector<std::string>& skip_targets) = 0;
  // The same claim, answered through `done` (on the store's thread, or the caller's) instead of
  // waiting for it: the dispatcher's loop claims this way, so that a claim waiting for the embedded
  // store's next commit holds no worker thread. By default it runs claim() and answers at once.
  virtual void claim_async(Timestamp now, std::chrono::seconds lease, std::size_t limit,
                           std::vector<std::string> skip_targets, Done<std::vector<OutboxEntry>> done) {
    done(claim(now, lease, limit, skip_targets));
  }
  // The entry was delivered: removes it; for a postal order, records the item code and moves the
  // dossier to `ordered`: an `ordered` event in its history (event id "hub:ordered:<entry id>")
  // and the callbacks `make` returns, committed with the move as apply_event() does. Audited.
  virtual void delivered(const OutboxEntry& entry, Delivered result, Timestamp now, CallbackMaker make,
                         Done<void> done) = 0;
  // The attempt failed but may succeed later: attempts + 1, due again at `next_due`.
  virtual void retry_later(const OutboxEntry& entry, Timestamp next_due, std::string error, Done<void> done) = 0;
  // Given up: moves the entry to the dead letters; a postal order's dossier becomes dead_lettered.
  virtual void dead_letter(const OutboxEntry& entry, std::string reason, Timestamp now, Done<void> done) = 0;
  virtual Outcome<std::size_t> outbox_depth() = 0;
  // The outbox entry with this id as it is now (attempts, last error), or nullopt when it is not
  // in the outbox (delivered, given up, never there). A postal core that answers on a queue
  // answers later: its reply names the entry, and the dispatcher records the reply against it.
  virtual Outcome<std::optional<OutboxEntry>> outbox_entry(std::string_view id) = 0;
  // Keeps claimed entries leased until `until` (shared mode: the entries the work queue now has).
  // Entries gone or no longer leased (delivered, retried, given up meanwhile) are left as they are.
  virtual void extend_leases(std::vector<std::string> ids, Timestamp until, Done<void> done) = 0;

  // --- operations (admin)
  virtual Outcome<std::vector<DeadLetter>> dead_letters(std::size_t limit, std::size_t offset) = 0;
  virtual Outcome<std::optional<DeadLetter>> dead_letter_by_id(std::string_view id) = 0;
  virtual Outcome<std::size_t> dead_letter_count() = 0;
  // Puts dead letters back in the outbox, due now, attempts reset; the dossier leaves
  // dead_lettered. Audited with `actor`.
  virtual void redrive(std::vector<std::string> ids, std::string actor, Timestamp now, Done<std::size_t> done) = 0;
  virtual void discard(std::vector<std::string> ids, std::string actor, Timestamp now, Done<std::size_t> done) = 0;
  virtual Outcome<std::vector<Rejection>> rejections(std::size_t limit, std::size_t offset) = 0;
  virtual Outcome<std::vector<AuditEntry>> audit_for(std::string_view subject) = 0;
  virtual Outcome<AuditCheck> verify_audit() = 0;

  // Whether the store can take writes now (for /readyz).
  virtual bool healthy() = 0;
};

// ---------------------------------------------------------------- the embedded store

struct SqliteOptions {
  std::filesystem::path file = "dossier-hub.db";
  std::size_t max_batch = 256;  // requests per transaction (one fsync)
  std::chrono::milliseconds busy_timeout{5000};
};

// SQLite in WAL mode with synchronous=FULL; the schema is created or migrated on open (a
// versioned list of migrations, each applied once, in order). Throws on open failure (start-up).
std::unique_ptr<Store> open_sqlite(const SqliteOptions& options);

// ---------------------------------------------------------------- the shared store

struct PostgresOptions {
  // A postgresql:// URL or libpq "key=value" pairs. Never logged: it may hold a password.
  std::string url = "postgresql://localhost/dossier_hub";
  std::size_t max_batch = 256;  // requests per transaction (one commit)
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds statement_timeout{5000};  // the server's, per statement; the client waits 1 s more
  std::size_t read_connections = 4;                   // reads and claims at once; more wait for one
};

// PostgreSQL, for several hub instances on one database: the same semantics as the embedded
// store (group commit, one transaction per accepted message, idempotency, one hash-chained audit
// log across all instances, leases that no two instances hold at once). The schema is created or
// migrated on open, safely when instances start together. Throws when the first connection or a
// migration fails (start-up); afterwards a lost server makes operations fail with an error until
// it is back, and the store connects again by itself (pg_store.hpp).
std::unique_ptr<Store> open_postgres(const PostgresOptions& options);

}  // namespace dh::store
