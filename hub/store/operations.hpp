// The store's SQL logic, once for both databases: each write operation as it runs inside its
// savepoint of the writer's transaction, and each read. Statements are written so that SQLite and
// PostgreSQL both run them; what differs (the claim, the schema, locks) stays with each store.
//
// Audit subjects: the thing acted on. accept -> the message id, plus one "dossier_stored" per
// dossier (its hub_id); status events -> the hub_id; outbox work (delivered, retry, dead_letter,
// redrive, discard) -> the outbox entry id, plus a "status" entry on the hub_id when the dossier's
// status moves with it; rejections -> the rejection id. Details hold ids, counts, statuses and
// kinds only: never a body, a name or an address.
#pragma once

#include "hub/store/db.hpp"
#include "hub/store/store.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dh::store::ops {

// ---------------------------------------------------------------- writes (inside a savepoint)

// What an accept writes that needs no database: serialised on the caller's thread, so that the
// one writer spends its time on the database only.
struct RenderedDossier {
  std::string dossier_json;
  std::string route_flags_json;
};
std::vector<RenderedDossier> render_dossiers(const AcceptRequest& r);
// `rendered`: render_dossiers(r).
Outcome<AcceptResult> accept(Db& c, const AcceptRequest& r, const std::vector<RenderedDossier>& rendered);
Outcome<void> record_rejection(Db& c, const Rejection& r);
Outcome<EventOutcome> apply_event(Db& c, StatusEvent e, const CallbackMaker& make);
Outcome<void> delivered(Db& c, const std::string& id, const Delivered& d, const Timestamp& now,
                        const CallbackMaker& make);
Outcome<void> retry_later(Db& c, const std::string& id, const Timestamp& next_due, const std::string& error);
Outcome<void> extend_leases(Db& c, const std::vector<std::string>& ids, const Timestamp& until);
Outcome<void> dead_letter(Db& c, const std::string& id, const std::string& reason, const Timestamp& now);
Outcome<std::size_t> redrive(Db& c, const std::vector<std::string>& ids, const std::string& actor,
                             const Timestamp& now);
Outcome<std::size_t> discard(Db& c, const std::vector<std::string>& ids, const std::string& actor,
                             const Timestamp& now);
// The small write that tells whether the database takes writes again (healthy()).
Outcome<void> probe(Db& c);

// ---------------------------------------------------------------- reads

Outcome<std::optional<StoredDossier>> dossier(Db& c, std::string_view hub_id);
Outcome<std::vector<StoredDossier>> dossiers_by_code(Db& c, std::string_view agency_id, std::string_view dossier_code);
Outcome<std::vector<StatusEvent>> history(Db& c, std::string_view hub_id);
Outcome<std::size_t> outbox_depth(Db& c);
Outcome<std::optional<OutboxEntry>> outbox_entry(Db& c, std::string_view id);
Outcome<std::vector<DeadLetter>> dead_letters(Db& c, std::size_t limit, std::size_t offset);
Outcome<std::optional<DeadLetter>> dead_letter_by_id(Db& c, std::string_view id);
Outcome<std::size_t> dead_letter_count(Db& c);
Outcome<std::vector<Rejection>> rejections(Db& c, std::size_t limit, std::size_t offset);
Outcome<std::vector<AuditEntry>> audit_for(Db& c, std::string_view subject);
// Recomputes the chain from the first entry to the last, in one statement (one snapshot).
Outcome<AuditCheck> verify_audit(Db& c);

// ---------------------------------------------------------------- for each store's claim

// The columns a claim returns, in this order: id, kind, target, hub_id, url, content_type,
// payload, due_at, attempts, last_error.
Outcome<OutboxEntry> outbox_row(const Row& row);
// outbox_row appended to `out`: a claim's row callback.
Outcome<void> append_outbox_row(const Row& row, std::vector<OutboxEntry>& out);

// skip_targets as one JSON array of text, bound as one value: no SQL text is built from values.
std::string json_text_array(const std::vector<std::string>& items);

std::int64_t as_int64(std::size_t n);

}  // namespace dh::store::ops
