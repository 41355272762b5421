// The SQLite store. Writes: one writer thread, group commit (everything queued, up to max_batch,
// in one BEGIN IMMEDIATE ... COMMIT), each operation in its own SAVEPOINT so that a failing one
// rolls back alone; completion callbacks after COMMIT. Reads: a pool of query_only connections.
//
// Audit subjects: the thing acted on. accept -> the message id, plus one "dossier_stored" per
// dossier (its hub_id); status events -> the hub_id; outbox work (delivered, retry, dead_letter,
// redrive, discard) -> the outbox entry id, plus a "status" entry on the hub_id when the dossier's
// status moves with it; rejections -> the rejection id. Details hold ids, counts, statuses and
// kinds only: never a body, a name or an address.
#include "hub/store/sqlite_store.hpp"

#include "hub/common/ids.hpp"
#include "hub/store/schema.hpp"
#include "hub/store/sqlite.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <future>
#include <limits>
#include <mutex>
#include <pthread.h>
#include <sqlite3.h>
#include <stdexcept>
#include <sys/file.h>
#include <thread>
#include <unistd.h>
#include <utility>

namespace dh::store {

using sqlite::Connection;
using sqlite::from_db_time;
using sqlite::Query;
using sqlite::to_db_time;

namespace {

constexpr std::string_view kGenesisHash = "0000000000000000000000000000000000000000000000000000000000000000";

// ---------------------------------------------------------------- SQL (every value bound)

constexpr std::string_view kBegin = "BEGIN IMMEDIATE";
constexpr std::string_view kCommit = "COMMIT";
constexpr std::string_view kRollback = "ROLLBACK";
constexpr std::string_view kSavepoint = "SAVEPOINT op";
constexpr std::string_view kRelease = "RELEASE op";
constexpr std::string_view kRollbackTo = "ROLLBACK TO op";

constexpr std::string_view kFindMessage =
    "SELECT answer_json FROM messages WHERE agency_id = ?1 AND idempotency_key = ?2";
constexpr std::string_view kInsertMessage =
    "INSERT INTO messages (id, agency_id, idempotency_key, sha256, content_type, message_type, body, request_id, "
    "received_at, answer_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
constexpr std::string_view kInsertDossier =
    "INSERT INTO dossiers (hub_id, agency_id, dossier_code, status, dossier_json, order_id, item_code, message_id, "
    "route_flags, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
constexpr std::string_view kInsertOutbox =
    "INSERT INTO outbox (id, kind, target, hub_id, url, content_type, payload, due_at, lease_until, attempts, "
    "last_error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, ?9, ?10)";
constexpr std::string_view kInsertRejection =
    "INSERT INTO rejections (id, agency_id, sha256, problem_type, problem_json, body, received_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

constexpr std::string_view kLastAudit = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1";
constexpr std::string_view kInsertAudit =
    "INSERT INTO audit (seq, at, actor, action, subject, detail, prev_hash, hash) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
constexpr std::string_view kAuditFor =
    "SELECT seq, at, actor, action, subject, detail, prev_hash, hash FROM audit WHERE subject = ?1 ORDER BY seq";
constexpr std::string_view kAuditAll =
    "SELECT seq, at, actor, action, subject, detail, prev_hash, hash FROM audit ORDER BY seq";

constexpr std::string_view kSelectDossier =
    "SELECT hub_id, status, dossier_json, order_id, item_code, message_id, route_flags FROM dossiers "
    "WHERE hub_id = ?1";
constexpr std::string_view kSelectDossierByOrder =
    "SELECT hub_id, status, dossier_json, order_id, item_code, message_id, route_flags FROM dossiers "
    "WHERE order_id = ?1";
constexpr std::string_view kSelectDossiersByCode =
    "SELECT hub_id, status, dossier_json, order_id, item_code, message_id, route_flags FROM dossiers "
    "WHERE agency_id = ?1 AND dossier_code = ?2 ORDER BY hub_id";
constexpr std::string_view kSelectStatus = "SELECT status FROM dossiers WHERE hub_id = ?1";
constexpr std::string_view kUpdateStatus =
    "UPDATE dossiers SET status = ?2, item_code = coalesce(item_code, ?3), updated_at = ?4 WHERE hub_id = ?1";
constexpr std::string_view kSetItemCode =
    "UPDATE dossiers SET item_code = coalesce(item_code, ?2), updated_at = ?3 WHERE hub_id = ?1";

constexpr std::string_view kEventSeen = "SELECT 1 FROM status_events WHERE event_id = ?1";
constexpr std::string_view kInsertEvent =
    "INSERT INTO status_events (event_id, hub_id, order_id, item_code, status, occurred_at, reason, received_at, "
    "applied) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
constexpr std::string_view kSelectHistory =
    "SELECT event_id, hub_id, order_id, item_code, status, occurred_at, reason, received_at, applied "
    "FROM status_events WHERE hub_id = ?1 ORDER BY occurred_at, seq";

// skip_targets travel as one bound JSON array: no SQL text is built from values.
constexpr std::string_view kClaimable =
    "SELECT id, kind, target, hub_id, url, content_type, payload, due_at, attempts, last_error FROM outbox "
    "WHERE due_at <= ?1 AND (lease_until IS NULL OR lease_until <= ?1) "
    "AND target NOT IN (SELECT value FROM json_each(?2)) ORDER BY due_at, id LIMIT ?3";
constexpr std::string_view kLease = "UPDATE outbox SET lease_until = ?2 WHERE id = ?1";
constexpr std::string_view kReleaseAllLeases = "UPDATE outbox SET lease_until = NULL WHERE lease_until IS NOT NULL";
constexpr std::string_view kDeleteOutbox = "DELETE FROM outbox WHERE id = ?1 RETURNING kind, hub_id, attempts";
constexpr std::string_view kRetry =
    "UPDATE outbox SET attempts = attempts + 1, due_at = ?2, last_error = ?3, lease_until = NULL WHERE id = ?1 "
    "RETURNING attempts";
constexpr std::string_view kOutboxDepth = "SELECT count(*) FROM outbox";

constexpr std::string_view kBury =
    "INSERT INTO dead_letters (id, kind, target, hub_id, url, content_type, payload, due_at, attempts, last_error, "
    "reason, dead_at) SELECT id, kind, target, hub_id, url, content_type, payload, due_at, attempts, last_error, ?2, "
    "?3 FROM outbox WHERE id = ?1";
constexpr std::string_view kRevive =
    "INSERT INTO outbox (id, kind, target, hub_id, url, content_type, payload, due_at, lease_until, attempts, "
    "last_error) SELECT id, kind, target, hub_id, url, content_type, payload, ?2, NULL, 0, '' FROM dead_letters "
    "WHERE id = ?1";
constexpr std::string_view kDeleteDeadLetter = "DELETE FROM dead_letters WHERE id = ?1 RETURNING kind, hub_id";
constexpr std::string_view kSelectDeadLetters =
    "SELECT id, kind, target, hub_id, url, content_type, payload, due_at, attempts, last_error, reason, dead_at "
    "FROM dead_letters ORDER BY dead_at DESC, id DESC LIMIT ?1 OFFSET ?2";
constexpr std::string_view kSelectDeadLetter =
    "SELECT id, kind, target, hub_id, url, content_type, payload, due_at, attempts, last_error, reason, dead_at "
    "FROM dead_letters WHERE id = ?1";
constexpr std::string_view kCountDeadLetters = "SELECT count(*) FROM dead_letters";

constexpr std::string_view kSelectRejections =
    "SELECT id, agency_id, sha256, problem_type, problem_json, body, received_at FROM rejections "
    "ORDER BY received_at DESC, id DESC LIMIT ?1 OFFSET ?2";

constexpr std::string_view kProbe =
    "INSERT INTO health (id, probed_at) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at";

// ---------------------------------------------------------------- helpers

template <class T>
Outcome<T> failure(Error e) {
  return Outcome<T>(boost::system::in_place_error, std::move(e));
}

std::int64_t as_int64(std::size_t n) {
  return static_cast<std::int64_t>(std::min<std::size_t>(n, std::numeric_limits<std::int64_t>::max()));
}

// Runs `sql` with the values `bind` sets, calling `row` for each row it returns (row returns an
// Outcome<void>: a row that does not decode stops the query with its error).
template <class Bind, class Row>
Outcome<void> each(Connection& c, std::string_view sql, Bind&& bind, Row&& row) {
  auto q = c.query(sql);
  if (!q) return q.error();
  bind(*q);
  for (;;) {
    auto more = q->step();
    if (!more) return more.error();
    if (!*more) return {};
    if (auto r = row(static_cast<const Query&>(*q)); !r) return r.error();
  }
}

// Runs a statement that returns no rows; answers the number of rows it changed.
template <class Bind>
Outcome<int> write(Connection& c, std::string_view sql, Bind&& bind) {
  auto q = c.query(sql);
  if (!q) return q.error();
  bind(*q);
  if (auto r = q->run(); !r) return r.error();
  return q->changes();
}

Outcome<OutboxKind> parse_kind(std::string_view s) {
  if (s == "postal_order") return OutboxKind::postal_order;
  if (s == "agency_callback") return OutboxKind::agency_callback;
  return make_error("store: unknown outbox kind in the file");
}

Outcome<Status> parse_stored_status(std::string_view s) {
  if (auto st = parse_status(s)) return *st;
  return make_error("store: unknown status in the file");
}

// Columns: id, kind, target, hub_id, url, content_type, payload, due_at, attempts, last_error.
Outcome<OutboxEntry> outbox_row(const Query& q) {
  OutboxEntry e;
  e.id = q.text(0);
  auto kind = parse_kind(q.text(1));
  if (!kind) return kind.error();
  e.kind = *kind;
  e.target = q.text(2);
  e.hub_id = q.text(3);
  e.url = q.text(4);
  e.content_type = q.text(5);
  e.payload = q.text(6);
  auto due = from_db_time(q.text(7));
  if (!due) return due.error();
  e.due_at = *due;
  e.attempts = static_cast<int>(q.int64(8));
  e.last_error = q.text(9);
  return e;
}

// Columns: hub_id, status, dossier_json, order_id, item_code, message_id, route_flags.
Outcome<StoredDossier> dossier_row(const Query& q) {
  StoredDossier sd;
  const std::string hub_id = q.text(0);
  auto status = parse_stored_status(q.text(1));
  if (!status) return status.error();
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(q.text(2), ec);
  if (ec) return make_error("store: the stored dossier " + hub_id + " is not JSON");
  auto d = dossier_from_json(v);
  if (!d) return make_error("store: the stored dossier " + hub_id + " does not read back: " + d.error().to_string());
  sd.dossier = std::move(*d);
  // The JSON keeps the status it was accepted with; the column is the truth since.
  sd.dossier.status = std::string(to_string(*status));
  sd.status = *status;
  sd.order_id = q.opt_text(3);
  sd.item_code = q.opt_text(4);
  sd.message_id = q.text(5);
  const boost::json::value flags = boost::json::parse(q.text(6), ec);
  if (ec || !flags.is_array()) return make_error("store: the route flags of " + hub_id + " are not a JSON array");
  for (const auto& f : flags.get_array()) {
    if (!f.is_string()) return make_error("store: the route flags of " + hub_id + " are not all text");
    sd.route_flags.emplace_back(f.get_string());
  }
  return sd;
}

// Columns: event_id, hub_id, order_id, item_code, status, occurred_at, reason, received_at, applied.
Outcome<StatusEvent> event_row(const Query& q) {
  StatusEvent e;
  e.event_id = q.text(0);
  e.hub_id = q.text(1);
  e.order_id = q.text(2);
  e.item_code = q.opt_text(3);
  auto status = parse_stored_status(q.text(4));
  if (!status) return status.error();
  e.status = *status;
  auto occurred = from_db_time(q.text(5));
  if (!occurred) return occurred.error();
  e.occurred_at = *occurred;
  e.reason = q.opt_text(6);
  auto received = from_db_time(q.text(7));
  if (!received) return received.error();
  e.received_at = *received;
  e.applied = q.int64(8) != 0;
  return e;
}

// Columns: the outbox entry's (0..9), reason, dead_at.
Outcome<DeadLetter> dead_letter_row(const Query& q) {
  auto e = outbox_row(q);
  if (!e) return e.error();
  DeadLetter d;
  d.id = e->id;
  d.entry = std::move(*e);
  d.reason = q.text(10);
  auto dead = from_db_time(q.text(11));
  if (!dead) return dead.error();
  d.dead_at = *dead;
  return d;
}

// Columns: id, agency_id, sha256, problem_type, problem_json, body, received_at.
Outcome<Rejection> rejection_row(const Query& q) {
  Rejection r;
  r.id = q.text(0);
  r.agency_id = q.text(1);
  r.sha256 = q.text(2);
  r.problem_type = q.text(3);
  r.problem_json = q.text(4);
  r.body = q.text(5);
  auto received = from_db_time(q.text(6));
  if (!received) return received.error();
  r.received_at = *received;
  return r;
}

// Columns: seq, at, actor, action, subject, detail, prev_hash, hash.
Outcome<AuditEntry> audit_row(const Query& q) {
  AuditEntry a;
  a.seq = q.int64(0);
  auto at = from_db_time(q.text(1));
  if (!at) return at.error();
  a.at = *at;
  a.actor = q.text(2);
  a.action = q.text(3);
  a.subject = q.text(4);
  a.detail = q.text(5);
  a.prev_hash = q.text(6);
  a.hash = q.text(7);
  return a;
}

// ---------------------------------------------------------------- writes (inside a savepoint)

Outcome<void> append_audit(Connection& c, const Timestamp& at, std::string_view actor, std::string_view action,
                           std::string_view subject, std::string_view detail) {
  std::int64_t seq = 1;
  std::string prev(kGenesisHash);
  auto last = each(
      c, kLastAudit, [](Query&) {},
      [&](const Query& q) -> Outcome<void> {
        seq = q.int64(0) + 1;
        prev = q.text(1);
        return {};
      });
  if (!last) return last.error();
  const std::string at_text = to_db_time(at);
  const std::string hash = audit_hash(prev, seq, at_text, actor, action, subject, detail);
  auto w = write(c, kInsertAudit, [&](Query& q) {
    q.bind(1, seq).bind(2, at_text).bind(3, actor).bind(4, action).bind(5, subject).bind(6, detail);
    q.bind(7, prev).bind(8, hash);
  });
  if (!w) return w.error();
  return {};
}

Outcome<void> insert_outbox(Connection& c, const OutboxEntry& e) {
  auto w = write(c, kInsertOutbox, [&](Query& q) {
    q.bind(1, e.id).bind(2, to_string(e.kind)).bind(3, e.target).bind(4, e.hub_id).bind(5, e.url);
    q.bind(6, e.content_type).bind_blob(7, e.payload).bind(8, to_db_time(e.due_at));
    q.bind(9, std::int64_t{e.attempts}).bind(10, e.last_error);
  });
  if (!w) return w.error();
  return {};
}

Outcome<std::optional<Status>> current_status(Connection& c, std::string_view hub_id) {
  std::optional<Status> out;
  auto r = each(
      c, kSelectStatus, [&](Query& q) { q.bind(1, hub_id); },
      [&](const Query& q) -> Outcome<void> {
        auto s = parse_stored_status(q.text(0));
        if (!s) return s.error();
        out = *s;
        return {};
      });
  if (!r) return r.error();
  return out;
}

// Moves a dossier's status (records the item code if it had none) and audits it on the hub_id.
Outcome<void> set_status(Connection& c, std::string_view hub_id, Status from, Status to,
                         const std::optional<std::string>& item_code, const Timestamp& at, std::string_view actor,
                         std::string_view cause) {
  auto w = write(c, kUpdateStatus, [&](Query& q) {
    q.bind(1, hub_id).bind(2, to_string(to)).bind_opt(3, item_code).bind(4, to_db_time(at));
  });
  if (!w) return w.error();
  return append_audit(
      c, at, actor, "status", hub_id,
      "from=" + std::string(to_string(from)) + " to=" + std::string(to_string(to)) + " cause=" + std::string(cause));
}

// What an accept writes that needs no database: serialised on the caller's thread, so that the
// single writer spends its time on SQLite only.
struct RenderedDossier {
  std::string dossier_json;
  std::string route_flags_json;
};

std::vector<RenderedDossier> render_dossiers(const AcceptRequest& r) {
  std::vector<RenderedDossier> out;
  out.reserve(r.dossiers.size());
  for (const auto& d : r.dossiers) {
    boost::json::array flags;
    for (const auto& f : d.route_flags) flags.emplace_back(f);
    out.push_back({boost::json::serialize(to_json(d.dossier)), boost::json::serialize(flags)});
  }
  return out;
}

Outcome<AcceptResult> do_accept(Connection& c, const AcceptRequest& r, const std::vector<RenderedDossier>& rendered) {
  const Message& m = r.message;
  std::optional<std::string> first_answer;
  auto found = each(
      c, kFindMessage, [&](Query& q) { q.bind(1, m.agency_id).bind(2, m.idempotency_key); },
      [&](const Query& q) -> Outcome<void> {
        first_answer = q.text(0);
        return {};
      });
  if (!found) return found.error();
  if (first_answer) return AcceptResult{true, std::move(*first_answer)};

  for (const auto& d : r.dossiers)
    if (!d.dossier.hub_id || d.dossier.hub_id->empty()) return make_error("store: a dossier to accept has no hub_id");
  const std::string at = to_db_time(m.received_at);
  auto w = write(c, kInsertMessage, [&](Query& q) {
    q.bind(1, m.id).bind(2, m.agency_id).bind(3, m.idempotency_key).bind(4, m.sha256).bind(5, m.content_type);
    q.bind(6, m.message_type).bind_blob(7, m.body).bind(8, m.request_id).bind(9, at).bind(10, r.answer_json);
  });
  if (!w) return w.error();
  for (std::size_t i = 0; i < r.dossiers.size(); ++i) {
    const auto& d = r.dossiers[i];
    w = write(c, kInsertDossier, [&](Query& q) {
      q.bind(1, *d.dossier.hub_id).bind(2, m.agency_id).bind(3, d.dossier.dossier_code).bind(4, to_string(d.status));
      q.bind(5, rendered[i].dossier_json).bind_opt(6, d.order_id).bind_opt(7, d.item_code);
      q.bind(8, m.id).bind(9, rendered[i].route_flags_json).bind(10, at);
    });
    if (!w) return w.error();
  }
  for (const auto& e : r.outbox)
    if (auto o = insert_outbox(c, e); !o) return o.error();
  auto a = append_audit(c, m.received_at, "edge", "accept", m.id,
                        "agency=" + m.agency_id + " dossiers=" + std::to_string(r.dossiers.size()) +
                            " outbox=" + std::to_string(r.outbox.size()));
  if (!a) return a.error();
  for (const auto& d : r.dossiers) {
    std::string detail = "message=" + m.id + " status=" + std::string(to_string(d.status));
    if (d.order_id) detail += " order=" + *d.order_id;
    if (!d.route_flags.empty()) detail += " flags=" + std::to_string(d.route_flags.size());
    if (a = append_audit(c, m.received_at, "edge", "dossier_stored", *d.dossier.hub_id, detail); !a) return a.error();
  }
  return AcceptResult{false, r.answer_json};
}

Outcome<void> do_record_rejection(Connection& c, const Rejection& r) {
  auto w = write(c, kInsertRejection, [&](Query& q) {
    q.bind(1, r.id).bind(2, r.agency_id).bind(3, r.sha256).bind(4, r.problem_type).bind(5, r.problem_json);
    q.bind_blob(6, r.body).bind(7, to_db_time(r.received_at));
  });
  if (!w) return w.error();
  return append_audit(c, r.received_at, "edge", "reject", r.id,
                      "agency=" + (r.agency_id.empty() ? std::string("-") : r.agency_id) + " type=" + r.problem_type);
}

// An event for an order the hub does not know (or whose hub_id contradicts its order_id) is
// answered unknown_order and writes nothing: there is no dossier to hang it on. The edge counts
// and logs it; the postal core may send it again, it will be looked at again.
Outcome<EventOutcome> do_apply_event(Connection& c, StatusEvent e, const CallbackMaker& make) {
  if (e.event_id.empty()) return make_error("store: a status event without event_id");
  if (e.status == Status::dead_lettered) return make_error("store: dead_lettered is the hub's status, not an event's");
  bool seen = false;
  auto r = each(
      c, kEventSeen, [&](Query& q) { q.bind(1, e.event_id); },
      [&](const Query&) -> Outcome<void> {
        seen = true;
        return {};
      });
  if (!r) return r.error();
  if (seen) return EventOutcome::duplicate;

  std::optional<StoredDossier> before;
  const bool by_order = !e.order_id.empty();
  if (!by_order && e.hub_id.empty()) return EventOutcome::unknown_order;
  r = each(
      c, by_order ? kSelectDossierByOrder : kSelectDossier,
      [&](Query& q) { q.bind(1, by_order ? e.order_id : e.hub_id); },
      [&](const Query& q) -> Outcome<void> {
        auto d = dossier_row(q);
        if (!d) return d.error();
        before = std::move(*d);
        return {};
      });
  if (!r) return r.error();
  if (!before || (!e.hub_id.empty() && e.hub_id != *before->dossier.hub_id)) return EventOutcome::unknown_order;
  e.hub_id = *before->dossier.hub_id;
  if (e.order_id.empty()) e.order_id = before->order_id.value_or("");
  e.applied = moves(before->status, e.status);

  auto w = write(c, kInsertEvent, [&](Query& q) {
    q.bind(1, e.event_id).bind(2, e.hub_id).bind(3, e.order_id).bind_opt(4, e.item_code).bind(5, to_string(e.status));
    q.bind(6, to_db_time(e.occurred_at)).bind_opt(7, e.reason).bind(8, to_db_time(e.received_at));
    q.bind(9, std::int64_t{e.applied ? 1 : 0});
  });
  if (!w) return w.error();
  std::string detail = "event=" + e.event_id + " status=" + std::string(to_string(e.status));
  if (e.applied) {
    w = write(c, kUpdateStatus, [&](Query& q) {
      q.bind(1, e.hub_id).bind(2, to_string(e.status)).bind_opt(3, e.item_code).bind(4, to_db_time(e.received_at));
    });
    if (!w) return w.error();
    std::vector<OutboxEntry> callbacks;
    if (make) {
      try {
        callbacks = make(*before, e);
      } catch (...) {
        return make_error("store: the callback maker failed");
      }
    }
    for (const auto& cb : callbacks)
      if (auto o = insert_outbox(c, cb); !o) return o.error();
    detail +=
        " applied from=" + std::string(to_string(before->status)) + " callbacks=" + std::to_string(callbacks.size());
  } else {
    detail += " recorded (status stays " + std::string(to_string(before->status)) + ")";
  }
  if (auto a = append_audit(c, e.received_at, "edge", "status_event", e.hub_id, detail); !a) return a.error();
  return e.applied ? EventOutcome::applied : EventOutcome::recorded;
}

Outcome<std::vector<OutboxEntry>> do_claim(Connection& c, const Timestamp& now, std::chrono::seconds lease,
                                           std::size_t limit, const std::string& skip_json) {
  std::vector<OutboxEntry> out;
  const std::string now_text = to_db_time(now);
  auto r = each(
      c, kClaimable, [&](Query& q) { q.bind(1, now_text).bind(2, skip_json).bind(3, as_int64(limit)); },
      [&](const Query& q) -> Outcome<void> {
        auto e = outbox_row(q);
        if (!e) return e.error();
        out.push_back(std::move(*e));
        return {};
      });
  if (!r) return r.error();
  Timestamp until = now;
  until.utc += lease;
  const std::string until_text = to_db_time(until);
  for (const auto& e : out) {
    auto w = write(c, kLease, [&](Query& q) { q.bind(1, e.id).bind(2, until_text); });
    if (!w) return w.error();
  }
  return out;
}

// The outbox row that a DELETE ... RETURNING kind, hub_id[, attempts] removed.
struct Removed {
  OutboxKind kind = OutboxKind::postal_order;
  std::string hub_id;
  std::int64_t attempts = 0;
};

Outcome<std::optional<Removed>> remove(Connection& c, std::string_view sql, std::string_view id, bool with_attempts) {
  std::optional<Removed> out;
  auto r = each(
      c, sql, [&](Query& q) { q.bind(1, id); },
      [&](const Query& q) -> Outcome<void> {
        auto kind = parse_kind(q.text(0));
        if (!kind) return kind.error();
        out = Removed{*kind, q.text(1), with_attempts ? q.int64(2) : 0};
        return {};
      });
  if (!r) return r.error();
  return out;
}

std::string describe(const Removed& r) {
  return "kind=" + std::string(to_string(r.kind)) + " hub_id=" + r.hub_id;
}

// An entry that is no longer in the outbox (delivered by another dispatcher after its lease
// expired, or already given up) changes nothing: the work it stood for is settled.
Outcome<void> do_delivered(Connection& c, const std::string& id, const Delivered& d, const Timestamp& now) {
  auto removed = remove(c, kDeleteOutbox, id, true);
  if (!removed) return removed.error();
  if (!*removed) return {};
  const Removed& r = **removed;
  std::string detail = describe(r) + " attempts=" + std::to_string(r.attempts);
  if (d.item_code) detail += " item_code=" + *d.item_code;
  if (auto a = append_audit(c, now, "dispatcher", "delivered", id, detail); !a) return a.error();
  if (r.kind != OutboxKind::postal_order) return {};
  auto status = current_status(c, r.hub_id);
  if (!status) return status.error();
  if (!*status) return make_error("store: the dossier of outbox entry " + id + " is missing");
  if (moves(**status, Status::ordered))
    return set_status(c, r.hub_id, **status, Status::ordered, d.item_code, now, "dispatcher", "delivered:" + id);
  if (d.item_code) {
    auto w =
        write(c, kSetItemCode, [&](Query& q) { q.bind(1, r.hub_id).bind(2, *d.item_code).bind(3, to_db_time(now)); });
    if (!w) return w.error();
  }
  return {};
}

Outcome<void> do_retry_later(Connection& c, const std::string& id, const Timestamp& next_due,
                             const std::string& error) {
  std::optional<std::int64_t> attempts;
  auto r = each(
      c, kRetry, [&](Query& q) { q.bind(1, id).bind(2, to_db_time(next_due)).bind(3, error); },
      [&](const Query& q) -> Outcome<void> {
        attempts = q.int64(0);
        return {};
      });
  if (!r) return r.error();
  if (!attempts) return {};
  return append_audit(c, sqlite::wall_clock(), "dispatcher", "retry", id,
                      "attempts=" + std::to_string(*attempts) + " due_at=" + to_db_time(next_due));
}

Outcome<void> do_dead_letter(Connection& c, const std::string& id, const std::string& reason, const Timestamp& now) {
  auto w = write(c, kBury, [&](Query& q) { q.bind(1, id).bind(2, reason).bind(3, to_db_time(now)); });
  if (!w) return w.error();
  if (*w == 0) return {};
  auto removed = remove(c, kDeleteOutbox, id, true);
  if (!removed) return removed.error();
  if (!*removed) return make_error("store: outbox entry " + id + " vanished while being given up");
  const Removed& r = **removed;
  auto a =
      append_audit(c, now, "dispatcher", "dead_letter", id, describe(r) + " attempts=" + std::to_string(r.attempts));
  if (!a) return a.error();
  if (r.kind != OutboxKind::postal_order) return {};
  auto status = current_status(c, r.hub_id);
  if (!status) return status.error();
  if (*status && moves(**status, Status::dead_lettered))
    return set_status(c, r.hub_id, **status, Status::dead_lettered, std::nullopt, now, "dispatcher",
                      "dead_letter:" + id);
  return {};
}

// An operator's action, so it may leave dead_lettered (which status rules forbid to events).
Outcome<std::size_t> do_redrive(Connection& c, const std::vector<std::string>& ids, const std::string& actor,
                                const Timestamp& now) {
  std::size_t n = 0;
  const std::string now_text = to_db_time(now);
  for (const auto& id : ids) {
    auto w = write(c, kRevive, [&](Query& q) { q.bind(1, id).bind(2, now_text); });
    if (!w) return w.error();
    if (*w == 0) continue;  // not a dead letter (unknown, or listed twice)
    auto removed = remove(c, kDeleteDeadLetter, id, false);
    if (!removed) return removed.error();
    if (!*removed) return make_error("store: dead letter " + id + " vanished while being redriven");
    const Removed& r = **removed;
    if (auto a = append_audit(c, now, actor, "redrive", id, describe(r)); !a) return a.error();
    if (r.kind == OutboxKind::postal_order) {
      auto status = current_status(c, r.hub_id);
      if (!status) return status.error();
      if (*status == Status::dead_lettered) {
        auto s =
            set_status(c, r.hub_id, Status::dead_lettered, Status::accepted, std::nullopt, now, actor, "redrive:" + id);
        if (!s) return s.error();
      }
    }
    ++n;
  }
  return n;
}

Outcome<std::size_t> do_discard(Connection& c, const std::vector<std::string>& ids, const std::string& actor,
                                const Timestamp& now) {
  std::size_t n = 0;
  for (const auto& id : ids) {
    auto removed = remove(c, kDeleteDeadLetter, id, false);
    if (!removed) return removed.error();
    if (!*removed) continue;
    if (auto a = append_audit(c, now, actor, "discard", id, describe(**removed)); !a) return a.error();
    ++n;
  }
  return n;
}

Outcome<AuditCheck> verify_chain(Connection& c) {
  AuditCheck out;
  std::string expected_prev(kGenesisHash);
  auto r = each(
      c, kAuditAll, [](Query&) {},
      [&](const Query& q) -> Outcome<void> {
        ++out.entries;
        const std::int64_t seq = q.int64(0);
        std::string prev = q.text(6), hash = q.text(7);
        const bool intact = prev == expected_prev &&
                            audit_hash(prev, seq, q.text(1), q.text(2), q.text(3), q.text(4), q.text(5)) == hash;
        if (!intact && !out.first_bad_seq) {
          out.ok = false;
          out.first_bad_seq = seq;
        }
        expected_prev = std::move(hash);
        return {};
      });
  if (!r) return r.error();
  return out;
}

// ---------------------------------------------------------------- the writer's queue

class Op {
 public:
  virtual ~Op() = default;
  // Runs inside its savepoint; false: it failed, roll it back.
  virtual bool run(Connection& c) = 0;
  // After COMMIT (or its failure, `batch_error`): hands the result to the caller.
  virtual void finish(const Error* batch_error) = 0;
};

template <class T>
class TypedOp final : public Op {
 public:
  TypedOp(std::function<Outcome<T>(Connection&)> body, Done<T> done) : body_(std::move(body)), done_(std::move(done)) {}

  bool run(Connection& c) override {
    try {
      result_.emplace(body_(c));
    } catch (...) {  // cannot happen (out of memory): fail this operation, keep the writer alive
      result_.emplace(failure<T>(make_error("store: an operation failed unexpectedly")));
    }
    return result_->has_value();
  }

  void finish(const Error* batch_error) override {
    if (!done_) return;
    // An operation that failed alone keeps its own error; the others share the batch's.
    if (!result_ || (batch_error && result_->has_value()))
      done_(failure<T>(batch_error ? *batch_error : make_error("store: the operation did not run")));
    else
      done_(std::move(*result_));
  }

 private:
  std::function<Outcome<T>(Connection&)> body_;
  Done<T> done_;
  std::optional<Outcome<T>> result_;
};

// Read connections, taken by the calling thread for one read and given back.
class ReadPool {
 public:
  ReadPool(std::filesystem::path file, std::chrono::milliseconds busy_timeout)
      : file_(std::move(file)), busy_timeout_(busy_timeout) {}

  class Lease {
   public:
    Lease(ReadPool& pool, std::unique_ptr<Connection> c) : pool_(&pool), c_(std::move(c)) {}
    Lease(Lease&& o) noexcept = default;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (c_) pool_->give_back(std::move(c_));
    }
    Connection& operator*() const noexcept { return *c_; }

   private:
    ReadPool* pool_;
    std::unique_ptr<Connection> c_;
  };

  Outcome<Lease> take() {
    {
      std::lock_guard lock(m_);
      if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        return Lease(*this, std::move(c));
      }
    }
    auto c = Connection::open(file_, Connection::Mode::read, busy_timeout_);
    if (!c) return c.error();
    return Lease(*this, std::move(*c));
  }

 private:
  static constexpr std::size_t kMaxIdle = 8;  // more readers at once open more, closed after use

  void give_back(std::unique_ptr<Connection> c) {
    std::lock_guard lock(m_);
    if (idle_.size() < kMaxIdle) idle_.push_back(std::move(c));
  }

  std::filesystem::path file_;
  std::chrono::milliseconds busy_timeout_;
  std::mutex m_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

template <class T>
Outcome<std::vector<T>> read_all(ReadPool& pool, std::string_view sql, const std::function<void(Query&)>& bind,
                                 Outcome<T> (*decode)(const Query&)) {
  auto c = pool.take();
  if (!c) return c.error();
  std::vector<T> out;
  auto r = each(*(*c), sql, bind, [&](const Query& q) -> Outcome<void> {
    auto v = decode(q);
    if (!v) return v.error();
    out.push_back(std::move(*v));
    return {};
  });
  if (!r) return r.error();
  return out;
}

Outcome<std::size_t> read_count(ReadPool& pool, std::string_view sql) {
  auto c = pool.take();
  if (!c) return c.error();
  std::size_t n = 0;
  auto r = each(
      *(*c), sql, [](Query&) {},
      [&](const Query& q) -> Outcome<void> {
        n = static_cast<std::size_t>(q.int64(0));
        return {};
      });
  if (!r) return r.error();
  return n;
}

}  // namespace

std::string audit_hash(std::string_view prev_hash, std::int64_t seq, std::string_view at, std::string_view actor,
                       std::string_view action, std::string_view subject, std::string_view detail) {
  std::string s;
  s.reserve(prev_hash.size() + at.size() + actor.size() + action.size() + subject.size() + detail.size() + 32);
  s.append(prev_hash).append("\n").append(std::to_string(seq)).append("\n").append(at).append("\n");
  s.append(actor).append("\n").append(action).append("\n").append(subject).append("\n").append(detail);
  return sha256_hex(s);
}

// ---------------------------------------------------------------- the checkpointer

// Copies the WAL back into the database file on a thread of its own, so that the writer never
// stops for it: SQLite's automatic checkpoint runs inside the COMMIT that crosses the threshold,
// and with synchronous=FULL that is a second round of page writes and an fsync of the database
// file on the writer's critical path. Here the writer only counts (SQLite's WAL hook, after each
// commit) and wakes this thread, which runs PASSIVE checkpoints: they never block the writer or
// the readers, and they copy whatever frames no reader still needs.
class Checkpointer {
 public:
  static constexpr int kPages = 1000;  // SQLite's own default threshold (~4 MB of WAL)

  Checkpointer(std::filesystem::path file, std::chrono::milliseconds busy_timeout, Connection& writer)
      : file_(std::move(file)), busy_timeout_(busy_timeout), writer_(writer.raw()) {
    sqlite3_wal_autocheckpoint(writer.raw(), 0);
    sqlite3_wal_hook(writer.raw(), &Checkpointer::on_commit, this);
    thread_ = std::thread([this] { loop(); });
  }
  ~Checkpointer() {
    {
      std::lock_guard lock(m_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
    sqlite3_wal_hook(writer_, nullptr, nullptr);
  }
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

 private:
  static int on_commit(void* self, sqlite3*, const char*, int wal_pages) {
    if (wal_pages >= kPages) {
      auto* c = static_cast<Checkpointer*>(self);
      {
        std::lock_guard lock(c->m_);
        c->wanted_ = true;
      }
      c->cv_.notify_one();
    }
    return SQLITE_OK;
  }

  void loop() {
    pthread_setname_np(pthread_self(), "dh-store-ckpt");
    auto c = Connection::open(file_, Connection::Mode::write, busy_timeout_);  // WAL, synchronous=FULL
    for (;;) {
      {
        std::unique_lock lock(m_);
        cv_.wait(lock, [this] { return stopping_ || wanted_; });
        if (stopping_) return;  // the last connection to close checkpoints what is left
        wanted_ = false;
      }
      // A failure (I/O, the file gone) is not the writer's: its commits are in the WAL, durable;
      // the next commit over the threshold asks again. Reopen in case the connection is broken.
      if (!c ||
          sqlite3_wal_checkpoint_v2((*c)->raw(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr) != SQLITE_OK)
        c = Connection::open(file_, Connection::Mode::write, busy_timeout_);
    }
  }

  std::filesystem::path file_;
  std::chrono::milliseconds busy_timeout_;
  sqlite3* writer_;
  std::mutex m_;
  std::condition_variable cv_;
  bool wanted_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

// ---------------------------------------------------------------- SqliteStore::Impl

class SqliteStore::Impl {
 public:
  explicit Impl(const SqliteOptions& o)
      : max_batch_(std::max<std::size_t>(1, o.max_batch)), reads_(o.file, o.busy_timeout) {
    auto c = Connection::open(o.file, Connection::Mode::write, o.busy_timeout);
    if (!c) throw std::runtime_error(c.error().message);
    writer_ = std::move(*c);
    owner_ = OwnerLock(o.file);
    migrate(*writer_);
    // This process owns the file: a lease still set was taken by a process that died (SIGKILL,
    // power loss). Its entries are due again now, not when the dead process's lease would end.
    if (auto r = exec(kReleaseAllLeases); !r) throw std::runtime_error(r.error().message);
    checkpointer_.emplace(o.file, o.busy_timeout, *writer_);
    thread_ = std::thread([this] { writer_loop(); });
  }

  ~Impl() {
    {
      std::lock_guard lock(m_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
    checkpointer_.reset();  // before the writer closes: its hook points at the checkpointer
  }

  template <class T>
  void submit(std::function<Outcome<T>(Connection&)> body, Done<T> done) {
    enqueue(std::make_unique<TypedOp<T>>(std::move(body), std::move(done)));
  }

  // Runs a write through the writer and waits for its commit (claim).
  template <class T>
  Outcome<T> submit_and_wait(std::function<Outcome<T>(Connection&)> body) {
    if (std::this_thread::get_id() == thread_.get_id())
      return make_error(
          "store: a synchronous write from the writer's thread (a completion callback) would wait for "
          "itself");
    auto p = std::make_shared<std::promise<Outcome<T>>>();
    auto f = p->get_future();
    submit<T>(std::move(body), [p](Outcome<T> r) { p->set_value(std::move(r)); });
    return f.get();
  }

  bool healthy() {
    if (healthy_.load()) return true;
    // Unhealthy: find out whether writes work again, with one small write at a time.
    bool expected = false;
    if (probing_.compare_exchange_strong(expected, true)) {
      submit<void>(
          [](Connection& c) -> Outcome<void> {
            auto w = write(c, kProbe, [](Query& q) { q.bind(1, to_db_time(sqlite::wall_clock())); });
            if (!w) return w.error();
            return {};
          },
          [this](Outcome<void>) { probing_ = false; });
    }
    return false;
  }

  SqliteStats stats() const noexcept {
    SqliteStats s;
    s.transactions = transactions_.load();
    s.failed_transactions = failed_transactions_.load();
    s.operations = operations_.load();
    return s;
  }

  ReadPool& reads() noexcept { return reads_; }

 private:
  void enqueue(std::unique_ptr<Op> op) {
    {
      std::lock_guard lock(m_);
      if (!stopping_) {
        queue_.push_back(std::move(op));
        cv_.notify_one();
        return;
      }
    }
    const Error closed = make_error("store: closed");
    op->finish(&closed);
  }

  void writer_loop() {
    pthread_setname_np(pthread_self(), "dh-store-write");  // what top -H and perf show
    std::vector<std::unique_ptr<Op>> batch;
    for (;;) {
      {
        std::unique_lock lock(m_);
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and every queued write has had its answer
        const std::size_t n = std::min(queue_.size(), max_batch_);
        for (std::size_t i = 0; i < n; ++i) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      run_batch(batch);
      batch.clear();
    }
  }

  Outcome<void> exec(std::string_view sql) {
    auto q = writer_->query(sql);
    if (!q) return q.error();
    return q->run();
  }

  // One transaction, one fsync: each operation in its own savepoint; callbacks after COMMIT.
  void run_batch(std::vector<std::unique_ptr<Op>>& batch) {
    Connection& c = *writer_;
    std::optional<Error> failed;
    if (auto r = exec(kBegin); !r) failed = r.error();
    for (auto& op : batch) {
      if (failed) break;
      if (auto r = exec(kSavepoint); !r) {
        failed = r.error();
        break;
      }
      const bool ok = op->run(c);
      // Some errors (disk full, I/O) make SQLite roll the whole transaction back: then the
      // operations before this one are gone too, and every operation of the batch fails.
      if (!c.in_transaction()) {
        failed = c.error("the transaction was rolled back");
        break;
      }
      if (!ok) {
        if (auto r = exec(kRollbackTo); !r) {
          failed = r.error();
          break;
        }
      }
      if (auto r = exec(kRelease); !r) {
        failed = r.error();
        break;
      }
    }
    if (!failed)
      if (auto r = exec(kCommit); !r) failed = r.error();
    if (failed && c.in_transaction()) (void)exec(kRollback);
    if (failed) {
      ++failed_transactions_;
      healthy_ = false;
    } else {
      ++transactions_;
      operations_ += batch.size();
      healthy_ = true;
    }
    for (auto& op : batch) op->finish(failed ? &*failed : nullptr);
  }

  // The embedded store belongs to one process: an exclusive flock(2) on the database file, held
  // while the store is open and dropped by the kernel when the process ends, however it ends.
  // (SQLite's own locks are fcntl(2) locks: independent of flock on Linux, so they do not clash.)
  class OwnerLock {
   public:
    OwnerLock() = default;
    explicit OwnerLock(const std::filesystem::path& file) : fd_(::open(file.c_str(), O_RDONLY | O_CLOEXEC)) {
      if (fd_ < 0) throw std::runtime_error("store: cannot open " + file.string() + ": " + std::strerror(errno));
      if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        const int e = errno;
        ::close(fd_);
        fd_ = -1;
        if (e == EWOULDBLOCK)
          throw std::runtime_error("store: " + file.string() +
                                   " is in use by another dossier-hub process; the embedded store is one process's "
                                   "(run several instances in shared mode, docs/operations.md)");
        throw std::runtime_error("store: cannot lock " + file.string() + ": " + std::strerror(e));
      }
    }
    OwnerLock(OwnerLock&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    OwnerLock& operator=(OwnerLock&& o) noexcept {
      std::swap(fd_, o.fd_);
      return *this;
    }
    OwnerLock(const OwnerLock&) = delete;
    OwnerLock& operator=(const OwnerLock&) = delete;
    ~OwnerLock() {
      if (fd_ >= 0) ::close(fd_);
    }

   private:
    int fd_ = -1;
  };

  std::size_t max_batch_;
  OwnerLock owner_;                     // declared before the writer: released after it closes
  std::unique_ptr<Connection> writer_;  // used by the writer thread only (and by the constructor)
  std::optional<Checkpointer> checkpointer_;
  ReadPool reads_;

  std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Op>> queue_;
  bool stopping_ = false;
  std::thread thread_;

  std::atomic<bool> healthy_{true};
  std::atomic<bool> probing_{false};
  std::atomic<std::uint64_t> transactions_{0}, failed_transactions_{0}, operations_{0};
};

// ---------------------------------------------------------------- SqliteStore

SqliteStore::SqliteStore(const SqliteOptions& options) : impl_(std::make_unique<Impl>(options)) {}
SqliteStore::~SqliteStore() = default;

void SqliteStore::accept(AcceptRequest request, Done<AcceptResult> done) {
  auto rendered = render_dossiers(request);
  impl_->submit<AcceptResult>(
      [r = std::move(request), rendered = std::move(rendered)](Connection& c) { return do_accept(c, r, rendered); },
      std::move(done));
}

void SqliteStore::record_rejection(Rejection rejection, Done<void> done) {
  impl_->submit<void>([r = std::move(rejection)](Connection& c) { return do_record_rejection(c, r); }, std::move(done));
}

Outcome<std::optional<StoredDossier>> SqliteStore::dossier(std::string_view hub_id) {
  auto all = read_all<StoredDossier>(
      impl_->reads(), kSelectDossier, [&](Query& q) { q.bind(1, hub_id); }, dossier_row);
  if (!all) return all.error();
  if (all->empty()) return std::optional<StoredDossier>();
  return std::optional<StoredDossier>(std::move(all->front()));
}

Outcome<std::vector<StoredDossier>> SqliteStore::dossiers_by_code(std::string_view agency_id,
                                                                  std::string_view dossier_code) {
  return read_all<StoredDossier>(
      impl_->reads(), kSelectDossiersByCode, [&](Query& q) { q.bind(1, agency_id).bind(2, dossier_code); },
      dossier_row);
}

Outcome<std::vector<StatusEvent>> SqliteStore::history(std::string_view hub_id) {
  return read_all<StatusEvent>(
      impl_->reads(), kSelectHistory, [&](Query& q) { q.bind(1, hub_id); }, event_row);
}

void SqliteStore::apply_event(StatusEvent event, CallbackMaker make, Done<EventOutcome> done) {
  impl_->submit<EventOutcome>(
      [e = std::move(event), m = std::move(make)](Connection& c) { return do_apply_event(c, e, m); }, std::move(done));
}

Outcome<std::vector<OutboxEntry>> SqliteStore::claim(Timestamp now, std::chrono::seconds lease, std::size_t limit,
                                                     const std::vector<std::string>& skip_targets) {
  boost::json::array skip;
  for (const auto& t : skip_targets) skip.emplace_back(t);
  return impl_->submit_and_wait<std::vector<OutboxEntry>>(
      [now, lease, limit, skip_json = boost::json::serialize(skip)](Connection& c) {
        return do_claim(c, now, lease, limit, skip_json);
      });
}

void SqliteStore::delivered(const OutboxEntry& entry, Delivered result, Timestamp now, Done<void> done) {
  impl_->submit<void>(
      [id = entry.id, d = std::move(result), now](Connection& c) { return do_delivered(c, id, d, now); },
      std::move(done));
}

void SqliteStore::retry_later(const OutboxEntry& entry, Timestamp next_due, std::string error, Done<void> done) {
  impl_->submit<void>(
      [id = entry.id, next_due, err = std::move(error)](Connection& c) { return do_retry_later(c, id, next_due, err); },
      std::move(done));
}

void SqliteStore::dead_letter(const OutboxEntry& entry, std::string reason, Timestamp now, Done<void> done) {
  impl_->submit<void>(
      [id = entry.id, why = std::move(reason), now](Connection& c) { return do_dead_letter(c, id, why, now); },
      std::move(done));
}

Outcome<std::size_t> SqliteStore::outbox_depth() {
  return read_count(impl_->reads(), kOutboxDepth);
}

Outcome<std::vector<DeadLetter>> SqliteStore::dead_letters(std::size_t limit, std::size_t offset) {
  return read_all<DeadLetter>(
      impl_->reads(), kSelectDeadLetters, [&](Query& q) { q.bind(1, as_int64(limit)).bind(2, as_int64(offset)); },
      dead_letter_row);
}

Outcome<std::optional<DeadLetter>> SqliteStore::dead_letter_by_id(std::string_view id) {
  auto all = read_all<DeadLetter>(
      impl_->reads(), kSelectDeadLetter, [&](Query& q) { q.bind(1, id); }, dead_letter_row);
  if (!all) return all.error();
  if (all->empty()) return std::optional<DeadLetter>();
  return std::optional<DeadLetter>(std::move(all->front()));
}

Outcome<std::size_t> SqliteStore::dead_letter_count() {
  return read_count(impl_->reads(), kCountDeadLetters);
}

void SqliteStore::redrive(std::vector<std::string> ids, std::string actor, Timestamp now, Done<std::size_t> done) {
  impl_->submit<std::size_t>(
      [ids = std::move(ids), who = std::move(actor), now](Connection& c) { return do_redrive(c, ids, who, now); },
      std::move(done));
}

void SqliteStore::discard(std::vector<std::string> ids, std::string actor, Timestamp now, Done<std::size_t> done) {
  impl_->submit<std::size_t>(
      [ids = std::move(ids), who = std::move(actor), now](Connection& c) { return do_discard(c, ids, who, now); },
      std::move(done));
}

Outcome<std::vector<Rejection>> SqliteStore::rejections(std::size_t limit, std::size_t offset) {
  return read_all<Rejection>(
      impl_->reads(), kSelectRejections, [&](Query& q) { q.bind(1, as_int64(limit)).bind(2, as_int64(offset)); },
      rejection_row);
}

Outcome<std::vector<AuditEntry>> SqliteStore::audit_for(std::string_view subject) {
  return read_all<AuditEntry>(
      impl_->reads(), kAuditFor, [&](Query& q) { q.bind(1, subject); }, audit_row);
}

Outcome<AuditCheck> SqliteStore::verify_audit() {
  auto c = impl_->reads().take();
  if (!c) return c.error();
  return verify_chain(*(*c));
}

bool SqliteStore::healthy() {
  return impl_->healthy();
}

SqliteStats SqliteStore::stats() const noexcept {
  return impl_->stats();
}

Outcome<AuditCheck> verify_audit_file(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) return make_error("store: " + file.string() + ": no such file");
  auto c = Connection::open(file, Connection::Mode::read_only, std::chrono::milliseconds(5000));
  if (!c) return c.error();
  return verify_chain(**c);
}

}  // namespace dh::store
