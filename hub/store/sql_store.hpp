// A Store on a SQL database, whichever it is: every write goes through the store's Writer (group
// commit), every read runs operations.hpp on a read connection the concrete store lends. The
// concrete store adds how it connects, its claim, and its schema.
#pragma once

#include "hub/store/db.hpp"
#include "hub/store/store.hpp"
#include "hub/store/writer.hpp"

#include <optional>

namespace dh::store {

class SqlStore : public Store {
 public:
  void accept(AcceptRequest request, Done<AcceptResult> done) override;
  void record_rejection(Rejection rejection, Done<void> done) override;
  Outcome<std::optional<StoredDossier>> dossier(std::string_view hub_id) override;
  Outcome<std::vector<StoredDossier>> dossiers_by_code(std::string_view agency_id,
                                                       std::string_view dossier_code) override;
  Outcome<std::vector<StatusEvent>> history(std::string_view hub_id) override;
  void apply_event(StatusEvent event, CallbackMaker make, Done<EventOutcome> done) override;
  void delivered(const OutboxEntry& entry, Delivered result, Timestamp now, CallbackMaker make,
                 Done<void> done) override;
  void retry_later(const OutboxEntry& entry, Timestamp next_due, std::string error, Done<void> done) override;
  void extend_leases(std::vector<std::string> ids, Timestamp until, Done<void> done) override;
  void dead_letter(const OutboxEntry& entry, std::string reason, Timestamp now, Done<void> done) override;
  Outcome<std::size_t> outbox_depth() override;
  Outcome<std::optional<OutboxEntry>> outbox_entry(std::string_view id) override;
  Outcome<std::vector<DeadLetter>> dead_letters(std::size_t limit, std::size_t offset) override;
  Outcome<std::optional<DeadLetter>> dead_letter_by_id(std::string_view id) override;
  Outcome<std::size_t> dead_letter_count() override;
  void redrive(std::vector<std::string> ids, std::string actor, Timestamp now, Done<std::size_t> done) override;
  void discard(std::vector<std::string> ids, std::string actor, Timestamp now, Done<std::size_t> done) override;
  Outcome<std::vector<Rejection>> rejections(std::size_t limit, std::size_t offset) override;
  Outcome<std::vector<AuditEntry>> audit_for(std::string_view subject) override;
  Outcome<AuditCheck> verify_audit() override;
  bool healthy() override;

 protected:
  virtual Writer& writer() = 0;
  // Runs `body` on a read connection (on the caller's thread); its answer, or why no connection
  // could be had. `body` may run twice: a store may try again on a new connection.
  virtual Outcome<void> with_reader(FunctionRef<Outcome<void>(Db&)> body) = 0;

  template <class T, class F>
  Outcome<T> read(F&& f) {
    std::optional<Outcome<T>> out;
    auto r = with_reader([&](Db& c) -> Outcome<void> {
      out.emplace(f(c));
      if (!*out) return out->error();
      return {};
    });
    if (!r) return r.error();
    return std::move(*out);
  }
};

}  // namespace dh::store
