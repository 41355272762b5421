// The embedded store (store.hpp) on SQLite: one file, WAL, synchronous=FULL. One writer thread
// owns the write connection and commits whatever is queued in one transaction (one fsync); reads
// run on the caller's thread over a small pool of read connections.
#pragma once

#include "hub/store/store.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>

namespace dh::store {

// What the writer has done since open: for tests, benchmarks and metrics.
struct SqliteStats {
  std::uint64_t transactions = 0;         // write transactions committed
  std::uint64_t failed_transactions = 0;  // BEGIN or COMMIT failed, or SQLite rolled one back
  std::uint64_t operations = 0;           // write operations carried by the committed transactions
};

class SqliteStore final : public Store {
 public:
  // Opens or creates the file and migrates its schema; throws std::runtime_error (start-up).
  explicit SqliteStore(const SqliteOptions& options);
  // Finishes every queued write (each gets its answer), then closes.
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  void accept(AcceptRequest request, Done<AcceptResult> done) override;
  void record_rejection(Rejection rejection, Done<void> done) override;
  Outcome<std::optional<StoredDossier>> dossier(std::string_view hub_id) override;
  Outcome<std::vector<StoredDossier>> dossiers_by_code(std::string_view agency_id,
                                                       std::string_view dossier_code) override;
  Outcome<std::vector<StatusEvent>> history(std::string_view hub_id) override;
  void apply_event(StatusEvent event, CallbackMaker make, Done<EventOutcome> done) override;
  // Runs through the writer (it is a write: the lease) and waits for its commit. Never call it
  // from a completion callback: it answers with an error there instead of waiting for itself.
  Outcome<std::vector<OutboxEntry>> claim(Timestamp now, std::chrono::seconds lease, std::size_t limit,
                                          const std::vector<std::string>& skip_targets) override;
  void delivered(const OutboxEntry& entry, Delivered result, Timestamp now, Done<void> done) override;
  void retry_later(const OutboxEntry& entry, Timestamp next_due, std::string error, Done<void> done) override;
  void dead_letter(const OutboxEntry& entry, std::string reason, Timestamp now, Done<void> done) override;
  Outcome<std::size_t> outbox_depth() override;
  Outcome<std::vector<DeadLetter>> dead_letters(std::size_t limit, std::size_t offset) override;
  Outcome<std::optional<DeadLetter>> dead_letter_by_id(std::string_view id) override;
  Outcome<std::size_t> dead_letter_count() override;
  void redrive(std::vector<std::string> ids, std::string actor, Timestamp now, Done<std::size_t> done) override;
  void discard(std::vector<std::string> ids, std::string actor, Timestamp now, Done<std::size_t> done) override;
  Outcome<std::vector<Rejection>> rejections(std::size_t limit, std::size_t offset) override;
  Outcome<std::vector<AuditEntry>> audit_for(std::string_view subject) override;
  Outcome<AuditCheck> verify_audit() override;
  bool healthy() override;

  [[nodiscard]] SqliteStats stats() const noexcept;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Verifies the audit chain of an existing hub file without writing to it: a read-only
// connection, no migrations, no writer (`dossier-hub audit verify`).
Outcome<AuditCheck> verify_audit_file(const std::filesystem::path& file);

// The hash of one audit entry: SHA-256 hex over its fields joined by "\n", the time as stored.
std::string audit_hash(std::string_view prev_hash, std::int64_t seq, std::string_view at, std::string_view actor,
                       std::string_view action, std::string_view subject, std::string_view detail);

}  // namespace dh::store
