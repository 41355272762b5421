#include "hub/store/sql_store.hpp"

#include "hub/store/operations.hpp"

namespace dh::store {

void SqlStore::accept(AcceptRequest request, Done<AcceptResult> done) {
  auto rendered = ops::render_dossiers(request);
  writer().submit<AcceptResult>(
      [r = std::move(request), rendered = std::move(rendered)](Db& c) { return ops::accept(c, r, rendered); },
      std::move(done));
}

void SqlStore::record_rejection(Rejection rejection, Done<void> done) {
  writer().submit<void>([r = std::move(rejection)](Db& c) { return ops::record_rejection(c, r); }, std::move(done));
}

Outcome<std::optional<StoredDossier>> SqlStore::dossier(std::string_view hub_id) {
  return read<std::optional<StoredDossier>>([&](Db& c) { return ops::dossier(c, hub_id); });
}

Outcome<std::vector<StoredDossier>> SqlStore::dossiers_by_code(std::string_view agency_id,
                                                               std::string_view dossier_code) {
  return read<std::vector<StoredDossier>>([&](Db& c) { return ops::dossiers_by_code(c, agency_id, dossier_code); });
}

Outcome<std::vector<StatusEvent>> SqlStore::history(std::string_view hub_id) {
  return read<std::vector<StatusEvent>>([&](Db& c) { return ops::history(c, hub_id); });
}

void SqlStore::apply_event(StatusEvent event, CallbackMaker make, Done<EventOutcome> done) {
  writer().submit<EventOutcome>(
      [e = std::move(event), m = std::move(make)](Db& c) { return ops::apply_event(c, e, m); }, std::move(done));
}

void SqlStore::delivered(const OutboxEntry& entry, Delivered result, Timestamp now, CallbackMaker make,
                         Done<void> done) {
  writer().submit<void>([id = entry.id, d = std::move(result), now,
                         m = std::move(make)](Db& c) { return ops::delivered(c, id, d, now, m); },
                        std::move(done));
}

void SqlStore::retry_later(const OutboxEntry& entry, Timestamp next_due, std::string error, Done<void> done) {
  writer().submit<void>(
      [id = entry.id, next_due, err = std::move(error)](Db& c) { return ops::retry_later(c, id, next_due, err); },
      std::move(done));
}

void SqlStore::extend_leases(std::vector<std::string> ids, Timestamp until, Done<void> done) {
  writer().submit<void>([ids = std::move(ids), until](Db& c) { return ops::extend_leases(c, ids, until); },
                        std::move(done));
}

void SqlStore::dead_letter(const OutboxEntry& entry, std::string reason, Timestamp now, Done<void> done) {
  writer().submit<void>(
      [id = entry.id, why = std::move(reason), now](Db& c) { return ops::dead_letter(c, id, why, now); },
      std::move(done));
}

Outcome<std::size_t> SqlStore::outbox_depth() {
  return read<std::size_t>([](Db& c) { return ops::outbox_depth(c); });
}

Outcome<std::optional<OutboxEntry>> SqlStore::outbox_entry(std::string_view id) {
  return read<std::optional<OutboxEntry>>([&](Db& c) { return ops::outbox_entry(c, id); });
}

Outcome<std::vector<DeadLetter>> SqlStore::dead_letters(std::size_t limit, std::size_t offset) {
  return read<std::vector<DeadLetter>>([&](Db& c) { return ops::dead_letters(c, limit, offset); });
}

Outcome<std::optional<DeadLetter>> SqlStore::dead_letter_by_id(std::string_view id) {
  return read<std::optional<DeadLetter>>([&](Db& c) { return ops::dead_letter_by_id(c, id); });
}

Outcome<std::size_t> SqlStore::dead_letter_count() {
  return read<std::size_t>([](Db& c) { return ops::dead_letter_count(c); });
}

void SqlStore::redrive(std::vector<std::string> ids, std::string actor, Timestamp now, Done<std::size_t> done) {
  writer().submit<std::size_t>(
      [ids = std::move(ids), who = std::move(actor), now](Db& c) { return ops::redrive(c, ids, who, now); },
      std::move(done));
}

void SqlStore::discard(std::vector<std::string> ids, std::string actor, Timestamp now, Done<std::size_t> done) {
  writer().submit<std::size_t>(
      [ids = std::move(ids), who = std::move(actor), now](Db& c) { return ops::discard(c, ids, who, now); },
      std::move(done));
}

Outcome<std::vector<Rejection>> SqlStore::rejections(std::size_t limit, std::size_t offset) {
  return read<std::vector<Rejection>>([&](Db& c) { return ops::rejections(c, limit, offset); });
}

Outcome<std::vector<AuditEntry>> SqlStore::audit_for(std::string_view subject) {
  return read<std::vector<AuditEntry>>([&](Db& c) { return ops::audit_for(c, subject); });
}

Outcome<AuditCheck> SqlStore::verify_audit() {
  return read<AuditCheck>([](Db& c) { return ops::verify_audit(c); });
}

bool SqlStore::healthy() {
  return writer().healthy();
}

}  // namespace dh::store
