#include "hub/store/operations.hpp"

#include "hub/store/row_format.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <limits>

namespace dh::store::ops {

namespace {

// ---------------------------------------------------------------- SQL (every value bound)

constexpr std::string_view kFindMessage =
    "SELECT answer_json FROM messages WHERE agency_id = ?1 AND idempotency_key = ?2";
constexpr std::string_view kInsertMessage =
    "INSERT INTO messages (id, agency_id, idempotency_key, sha256, content_type, message_type, body, request_id, "
    "received_at, answer_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
// A dossier is two rows: what was accepted (dossiers, never changed) and where it is now
// (dossier_state, a few dozen bytes), so that a status change rewrites the small row only.
constexpr std::string_view kInsertDossier =
    "INSERT INTO dossiers (hub_id, agency_id, dossier_code, dossier_json, order_id, message_id, route_flags) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
constexpr std::string_view kInsertState =
    "INSERT INTO dossier_state (hub_id, status, item_code, updated_at) VALUES (?1, ?2, ?3, ?4)";
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
    "SELECT d.hub_id, s.status, d.dossier_json, d.order_id, s.item_code, d.message_id, d.route_flags "
    "FROM dossiers d JOIN dossier_state s ON s.hub_id = d.hub_id WHERE d.hub_id = ?1";
constexpr std::string_view kSelectDossierByOrder =
    "SELECT d.hub_id, s.status, d.dossier_json, d.order_id, s.item_code, d.message_id, d.route_flags "
    "FROM dossiers d JOIN dossier_state s ON s.hub_id = d.hub_id WHERE d.order_id = ?1";
constexpr std::string_view kSelectDossiersByCode =
    "SELECT d.hub_id, s.status, d.dossier_json, d.order_id, s.item_code, d.message_id, d.route_flags "
    "FROM dossiers d JOIN dossier_state s ON s.hub_id = d.hub_id WHERE d.agency_id = ?1 AND d.dossier_code = ?2 "
    "ORDER BY d.hub_id";
constexpr std::string_view kSelectStatus = "SELECT status FROM dossier_state WHERE hub_id = ?1";
constexpr std::string_view kUpdateStatus =
    "UPDATE dossier_state SET status = ?2, item_code = coalesce(item_code, ?3), updated_at = ?4 WHERE hub_id = ?1";
constexpr std::string_view kSetItemCode =
    "UPDATE dossier_state SET item_code = coalesce(item_code, ?2), updated_at = ?3 WHERE hub_id = ?1";

constexpr std::string_view kEventSeen = "SELECT 1 FROM status_events WHERE event_id = ?1";
constexpr std::string_view kInsertEvent =
    "INSERT INTO status_events (event_id, hub_id, order_id, item_code, status, occurred_at, reason, received_at, "
    "applied) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
constexpr std::string_view kSelectHistory =
    "SELECT event_id, hub_id, order_id, item_code, status, occurred_at, reason, received_at, applied "
    "FROM status_events WHERE hub_id = ?1 ORDER BY occurred_at, seq";

constexpr std::string_view kDeleteOutbox = "DELETE FROM outbox WHERE id = ?1 RETURNING kind, hub_id, attempts";
constexpr std::string_view kRetry =
    "UPDATE outbox SET attempts = attempts + 1, due_at = ?2, last_error = ?3, lease_until = NULL WHERE id = ?1 "
    "RETURNING attempts";
constexpr std::string_view kOutboxDepth = "SELECT count(*) FROM outbox";
constexpr std::string_view kSelectOutboxEntry =
    "SELECT id, kind, target, hub_id, url, content_type, payload, due_at, attempts, last_error FROM outbox "
    "WHERE id = ?1";
constexpr std::string_view kExtendLease =
    "UPDATE outbox SET lease_until = ?2 WHERE id = ?1 AND lease_until IS NOT NULL AND lease_until < ?2";

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

// ---------------------------------------------------------------- rows

Outcome<OutboxKind> parse_kind(std::string_view s) {
  if (s == "postal_order") return OutboxKind::postal_order;
  if (s == "agency_callback") return OutboxKind::agency_callback;
  return make_error("store: unknown outbox kind in the file");
}

Outcome<Status> parse_stored_status(std::string_view s) {
  if (auto st = parse_status(s)) return *st;
  return make_error("store: unknown status in the file");
}

}  // namespace

std::int64_t as_int64(std::size_t n) {
  return static_cast<std::int64_t>(std::min<std::size_t>(n, std::numeric_limits<std::int64_t>::max()));
}

Outcome<void> append_outbox_row(const Row& row, std::vector<OutboxEntry>& out) {
  auto e = outbox_row(row);
  if (!e) return e.error();
  out.push_back(std::move(*e));
  return {};
}

std::string json_text_array(const std::vector<std::string>& items) {
  boost::json::array a;
  for (const auto& i : items) a.emplace_back(i);
  return boost::json::serialize(a);
}

Outcome<OutboxEntry> outbox_row(const Row& q) {
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

namespace {

// Columns: hub_id, status, dossier_json, order_id, item_code, message_id, route_flags.
Outcome<StoredDossier> dossier_row(const Row& q) {
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
Outcome<StatusEvent> event_row(const Row& q) {
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
Outcome<DeadLetter> dead_letter_row(const Row& q) {
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
Outcome<Rejection> rejection_row(const Row& q) {
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
Outcome<AuditEntry> audit_row(const Row& q) {
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

Outcome<void> append_audit(Db& c, const Timestamp& at, std::string_view actor, std::string_view action,
                           std::string_view subject, std::string_view detail) {
  std::int64_t seq = 1;
  std::string prev(kGenesisHash);
  auto last = c.each(
      kLastAudit, [](Params&) {},
      [&](const Row& q) -> Outcome<void> {
        seq = q.int64(0) + 1;
        prev = q.text(1);
        return {};
      });
  if (!last) return last.error();
  const std::string at_text = to_db_time(at);
  const std::string hash = audit_hash(prev, seq, at_text, actor, action, subject, detail);
  auto w = c.write(kInsertAudit, [&](Params& q) {
    q.bind(1, seq).bind(2, at_text).bind(3, actor).bind(4, action).bind(5, subject).bind(6, detail);
    q.bind(7, prev).bind(8, hash);
  });
  if (!w) return w.error();
  return {};
}

Outcome<void> insert_outbox(Db& c, const OutboxEntry& e) {
  auto w = c.write(kInsertOutbox, [&](Params& q) {
    q.bind(1, e.id).bind(2, to_string(e.kind)).bind(3, e.target).bind(4, e.hub_id).bind(5, e.url);
    q.bind(6, e.content_type).bind_blob(7, e.payload).bind(8, to_db_time(e.due_at));
    q.bind(9, std::int64_t{e.attempts}).bind(10, e.last_error);
  });
  if (!w) return w.error();
  return {};
}

Outcome<std::optional<Status>> current_status(Db& c, std::string_view hub_id) {
  std::optional<Status> out;
  auto r = c.each(
      kSelectStatus, [&](Params& q) { q.bind(1, hub_id); },
      [&](const Row& q) -> Outcome<void> {
        auto s = parse_stored_status(q.text(0));
        if (!s) return s.error();
        out = *s;
        return {};
      });
  if (!r) return r.error();
  return out;
}

// Moves a dossier's status (records the item code if it had none) and audits it on the hub_id.
Outcome<void> set_status(Db& c, std::string_view hub_id, Status from, Status to,
                         const std::optional<std::string>& item_code, const Timestamp& at, std::string_view actor,
                         std::string_view cause) {
  auto w = c.write(kUpdateStatus, [&](Params& q) {
    q.bind(1, hub_id).bind(2, to_string(to)).bind_opt(3, item_code).bind(4, to_db_time(at));
  });
  if (!w) return w.error();
  return append_audit(
      c, at, actor, "status", hub_id,
      "from=" + std::string(to_string(from)) + " to=" + std::string(to_string(to)) + " cause=" + std::string(cause));
}

Outcome<void> insert_event(Db& c, const StatusEvent& e) {
  auto w = c.write(kInsertEvent, [&](Params& q) {
    q.bind(1, e.event_id).bind(2, e.hub_id).bind(3, e.order_id).bind_opt(4, e.item_code).bind(5, to_string(e.status));
    q.bind(6, to_db_time(e.occurred_at)).bind_opt(7, e.reason).bind(8, to_db_time(e.received_at));
    q.bind(9, std::int64_t{e.applied ? 1 : 0});
  });
  if (!w) return w.error();
  return {};
}

// Commits the callbacks `make` renders for a status move; how many.
Outcome<std::size_t> insert_callbacks(Db& c, const StoredDossier& before, const StatusEvent& e,
                                      const CallbackMaker& make) {
  if (!make) return std::size_t{0};
  std::vector<OutboxEntry> callbacks;
  try {
    callbacks = make(before, e);
  } catch (...) {
    return make_error("store: the callback maker failed");
  }
  for (const auto& cb : callbacks)
    if (auto o = insert_outbox(c, cb); !o) return o.error();
  return callbacks.size();
}

}  // namespace

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

Outcome<AcceptResult> accept(Db& c, const AcceptRequest& r, const std::vector<RenderedDossier>& rendered) {
  const Message& m = r.message;
  std::optional<std::string> first_answer;
  auto found = c.each(
      kFindMessage, [&](Params& q) { q.bind(1, m.agency_id).bind(2, m.idempotency_key); },
      [&](const Row& q) -> Outcome<void> {
        first_answer = q.text(0);
        return {};
      });
  if (!found) return found.error();
  if (first_answer) return AcceptResult{true, std::move(*first_answer)};

  for (const auto& d : r.dossiers)
    if (!d.dossier.hub_id || d.dossier.hub_id->empty()) return make_error("store: a dossier to accept has no hub_id");
  const std::string at = to_db_time(m.received_at);
  auto w = c.write(kInsertMessage, [&](Params& q) {
    q.bind(1, m.id).bind(2, m.agency_id).bind(3, m.idempotency_key).bind(4, m.sha256).bind(5, m.content_type);
    q.bind(6, m.message_type).bind_blob(7, m.body).bind(8, m.request_id).bind(9, at).bind(10, r.answer_json);
  });
  if (!w) return w.error();
  for (std::size_t i = 0; i < r.dossiers.size(); ++i) {
    const auto& d = r.dossiers[i];
    w = c.write(kInsertDossier, [&](Params& q) {
      q.bind(1, *d.dossier.hub_id).bind(2, m.agency_id).bind(3, d.dossier.dossier_code);
      q.bind(4, rendered[i].dossier_json).bind_opt(5, d.order_id).bind(6, m.id).bind(7, rendered[i].route_flags_json);
    });
    if (!w) return w.error();
    w = c.write(kInsertState, [&](Params& q) {
      q.bind(1, *d.dossier.hub_id).bind(2, to_string(d.status)).bind_opt(3, d.item_code).bind(4, at);
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

Outcome<void> record_rejection(Db& c, const Rejection& r) {
  auto w = c.write(kInsertRejection, [&](Params& q) {
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
Outcome<EventOutcome> apply_event(Db& c, StatusEvent e, const CallbackMaker& make) {
  if (e.event_id.empty()) return make_error("store: a status event without event_id");
  if (e.status == Status::dead_lettered) return make_error("store: dead_lettered is the hub's status, not an event's");
  bool seen = false;
  auto r = c.each(
      kEventSeen, [&](Params& q) { q.bind(1, e.event_id); },
      [&](const Row&) -> Outcome<void> {
        seen = true;
        return {};
      });
  if (!r) return r.error();
  if (seen) return EventOutcome::duplicate;

  std::optional<StoredDossier> before;
  const bool by_order = !e.order_id.empty();
  if (!by_order && e.hub_id.empty()) return EventOutcome::unknown_order;
  r = c.each(
      by_order ? kSelectDossierByOrder : kSelectDossier,
      [&](Params& q) { q.bind(1, by_order ? e.order_id : e.hub_id); },
      [&](const Row& q) -> Outcome<void> {
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

  if (auto w = insert_event(c, e); !w) return w.error();
  std::string detail = "event=" + e.event_id + " status=" + std::string(to_string(e.status));
  if (e.applied) {
    auto w = c.write(kUpdateStatus, [&](Params& q) {
      q.bind(1, e.hub_id).bind(2, to_string(e.status)).bind_opt(3, e.item_code).bind(4, to_db_time(e.received_at));
    });
    if (!w) return w.error();
    auto callbacks = insert_callbacks(c, *before, e, make);
    if (!callbacks) return callbacks.error();
    detail += " applied from=" + std::string(to_string(before->status)) + " callbacks=" + std::to_string(*callbacks);
  } else {
    detail += " recorded (status stays " + std::string(to_string(before->status)) + ")";
  }
  if (auto a = append_audit(c, e.received_at, "edge", "status_event", e.hub_id, detail); !a) return a.error();
  return e.applied ? EventOutcome::applied : EventOutcome::recorded;
}

namespace {

// The outbox row that a DELETE ... RETURNING kind, hub_id[, attempts] removed.
struct Removed {
  OutboxKind kind = OutboxKind::postal_order;
  std::string hub_id;
  std::int64_t attempts = 0;
};

Outcome<std::optional<Removed>> remove(Db& c, std::string_view sql, std::string_view id, bool with_attempts) {
  std::optional<Removed> out;
  auto r = c.each(
      sql, [&](Params& q) { q.bind(1, id); },
      [&](const Row& q) -> Outcome<void> {
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

// The postal core took the order: the dossier moves to `ordered`, which its history records as an
// event of the hub's own (event id "hub:ordered:<order id>", so a repeat finds it seen), and the
// agency's callback for it is committed with the move, exactly as for a postal event.
Outcome<void> ordered(Db& c, const std::string& hub_id, const std::string& order_id, Status from,
                      const std::optional<std::string>& item_code, const Timestamp& now, const CallbackMaker& make) {
  std::optional<StoredDossier> before;  // as it was before the move, for the callback
  if (make) {
    auto r = c.each(
        kSelectDossier, [&](Params& q) { q.bind(1, hub_id); },
        [&](const Row& q) -> Outcome<void> {
          auto d = dossier_row(q);
          if (!d) return d.error();
          before = std::move(*d);
          return {};
        });
    if (!r) return r.error();
    if (!before) return make_error("store: the dossier " + hub_id + " is missing");
  }
  StatusEvent e;
  e.event_id = "hub:ordered:" + order_id;
  e.hub_id = hub_id;
  e.order_id = order_id;
  e.item_code = item_code;
  e.status = Status::ordered;
  e.occurred_at = now;
  e.received_at = now;
  e.applied = true;
  if (auto w = insert_event(c, e); !w) return w.error();
  if (auto s = set_status(c, hub_id, from, Status::ordered, item_code, now, "dispatcher", "delivered:" + order_id); !s)
    return s.error();
  if (!before) return {};
  auto callbacks = insert_callbacks(c, *before, e, make);
  if (!callbacks) return callbacks.error();
  return {};
}

}  // namespace

// An entry that is no longer in the outbox (delivered by another dispatcher after its lease
// expired, or already given up) changes nothing: the work it stood for is settled.
Outcome<void> delivered(Db& c, const std::string& id, const Delivered& d, const Timestamp& now,
                        const CallbackMaker& make) {
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
  if (moves(**status, Status::ordered)) return ordered(c, r.hub_id, id, **status, d.item_code, now, make);
  if (d.item_code) {
    auto w =
        c.write(kSetItemCode, [&](Params& q) { q.bind(1, r.hub_id).bind(2, *d.item_code).bind(3, to_db_time(now)); });
    if (!w) return w.error();
  }
  return {};
}

Outcome<void> retry_later(Db& c, const std::string& id, const Timestamp& next_due, const std::string& error) {
  std::optional<std::int64_t> attempts;
  auto r = c.each(
      kRetry, [&](Params& q) { q.bind(1, id).bind(2, to_db_time(next_due)).bind(3, error); },
      [&](const Row& q) -> Outcome<void> {
        attempts = q.int64(0);
        return {};
      });
  if (!r) return r.error();
  if (!attempts) return {};
  return append_audit(c, wall_clock(), "dispatcher", "retry", id,
                      "attempts=" + std::to_string(*attempts) + " due_at=" + to_db_time(next_due));
}

Outcome<void> extend_leases(Db& c, const std::vector<std::string>& ids, const Timestamp& until) {
  const std::string until_text = to_db_time(until);
  for (const auto& id : ids)
    if (auto w = c.write(kExtendLease, [&](Params& q) { q.bind(1, id).bind(2, until_text); }); !w) return w.error();
  return {};
}

Outcome<void> dead_letter(Db& c, const std::string& id, const std::string& reason, const Timestamp& now) {
  auto w = c.write(kBury, [&](Params& q) { q.bind(1, id).bind(2, reason).bind(3, to_db_time(now)); });
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
Outcome<std::size_t> redrive(Db& c, const std::vector<std::string>& ids, const std::string& actor,
                             const Timestamp& now) {
  std::size_t n = 0;
  const std::string now_text = to_db_time(now);
  for (const auto& id : ids) {
    auto w = c.write(kRevive, [&](Params& q) { q.bind(1, id).bind(2, now_text); });
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

Outcome<std::size_t> discard(Db& c, const std::vector<std::string>& ids, const std::string& actor,
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

Outcome<void> probe(Db& c) {
  auto w = c.write(kProbe, [](Params& q) { q.bind(1, to_db_time(wall_clock())); });
  if (!w) return w.error();
  return {};
}

// ---------------------------------------------------------------- reads

namespace {

template <class T>
Outcome<std::vector<T>> read_all(Db& c, std::string_view sql, Bind bind, Outcome<T> (*decode)(const Row&)) {
  std::vector<T> out;
  auto r = c.each(sql, bind, [&](const Row& q) -> Outcome<void> {
    auto v = decode(q);
    if (!v) return v.error();
    out.push_back(std::move(*v));
    return {};
  });
  if (!r) return r.error();
  return out;
}

template <class T>
Outcome<std::optional<T>> read_one(Db& c, std::string_view sql, Bind bind, Outcome<T> (*decode)(const Row&)) {
  auto all = read_all<T>(c, sql, bind, decode);
  if (!all) return all.error();
  if (all->empty()) return std::optional<T>();
  return std::optional<T>(std::move(all->front()));
}

Outcome<std::size_t> read_count(Db& c, std::string_view sql) {
  std::size_t n = 0;
  auto r = c.each(
      sql, [](Params&) {},
      [&](const Row& q) -> Outcome<void> {
        n = static_cast<std::size_t>(q.int64(0));
        return {};
      });
  if (!r) return r.error();
  return n;
}

}  // namespace

Outcome<std::optional<StoredDossier>> dossier(Db& c, std::string_view hub_id) {
  return read_one<StoredDossier>(
      c, kSelectDossier, [&](Params& q) { q.bind(1, hub_id); }, dossier_row);
}

Outcome<std::vector<StoredDossier>> dossiers_by_code(Db& c, std::string_view agency_id, std::string_view dossier_code) {
  return read_all<StoredDossier>(
      c, kSelectDossiersByCode, [&](Params& q) { q.bind(1, agency_id).bind(2, dossier_code); }, dossier_row);
}

Outcome<std::vector<StatusEvent>> history(Db& c, std::string_view hub_id) {
  return read_all<StatusEvent>(
      c, kSelectHistory, [&](Params& q) { q.bind(1, hub_id); }, event_row);
}

Outcome<std::size_t> outbox_depth(Db& c) {
  return read_count(c, kOutboxDepth);
}

Outcome<std::optional<OutboxEntry>> outbox_entry(Db& c, std::string_view id) {
  return read_one<OutboxEntry>(
      c, kSelectOutboxEntry, [&](Params& q) { q.bind(1, id); }, outbox_row);
}

Outcome<std::vector<DeadLetter>> dead_letters(Db& c, std::size_t limit, std::size_t offset) {
  return read_all<DeadLetter>(
      c, kSelectDeadLetters, [&](Params& q) { q.bind(1, as_int64(limit)).bind(2, as_int64(offset)); }, dead_letter_row);
}

Outcome<std::optional<DeadLetter>> dead_letter_by_id(Db& c, std::string_view id) {
  return read_one<DeadLetter>(
      c, kSelectDeadLetter, [&](Params& q) { q.bind(1, id); }, dead_letter_row);
}

Outcome<std::size_t> dead_letter_count(Db& c) {
  return read_count(c, kCountDeadLetters);
}

Outcome<std::vector<Rejection>> rejections(Db& c, std::size_t limit, std::size_t offset) {
  return read_all<Rejection>(
      c, kSelectRejections, [&](Params& q) { q.bind(1, as_int64(limit)).bind(2, as_int64(offset)); }, rejection_row);
}

Outcome<std::vector<AuditEntry>> audit_for(Db& c, std::string_view subject) {
  return read_all<AuditEntry>(
      c, kAuditFor, [&](Params& q) { q.bind(1, subject); }, audit_row);
}

Outcome<AuditCheck> verify_audit(Db& c) {
  AuditCheck out;
  std::string expected_prev(kGenesisHash);
  auto r = c.each(
      kAuditAll, [](Params&) {},
      [&](const Row& q) -> Outcome<void> {
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

}  // namespace dh::store::ops
