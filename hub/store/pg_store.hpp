// The shared store (store.hpp) on PostgreSQL, for several hub instances on one database. The SQL
// logic is the embedded store's (operations.hpp); what differs:
// - Writes: one writer thread per instance commits its queue in one transaction (group commit),
//   each operation in its own savepoint. Every write transaction first locks the one row of
//   `audit_lock`, so appends to the audit chain, and with them write transactions, take turns
//   across instances: the chain stays one sequence, and the idempotency check of one instance
//   sees what another committed (the same key sent to two instances at once: one is a duplicate).
// - Claims: on a read connection, one statement: SELECT ... FOR UPDATE SKIP LOCKED picks due
//   entries no other claim holds, and leases them; no two instances hold an entry at once.
// - Unavailability: connecting and every statement have deadlines; a failure is an error for the
//   operations concerned (healthy() turns false) and the next operation connects again. A
//   connection that died while idle (a restarted server, a terminated backend) is replaced and
//   the statement tried once more, since nothing of it had run.
#pragma once

#include "hub/store/sql_store.hpp"
#include "hub/store/store.hpp"

#include <memory>
#include <string>

namespace dh::store {

class PgStore final : public SqlStore {
 public:
  // Connects and migrates the schema; throws std::runtime_error (start-up).
  explicit PgStore(const PostgresOptions& options);
  // Finishes every queued write (each gets its answer), then closes.
  ~PgStore() override;
  PgStore(const PgStore&) = delete;
  PgStore& operator=(const PgStore&) = delete;

  // One statement on a read connection, on the caller's thread (not through the writer).
  Outcome<std::vector<OutboxEntry>> claim(Timestamp now, std::chrono::seconds lease, std::size_t limit,
                                          const std::vector<std::string>& skip_targets) override;

  [[nodiscard]] WriterStats stats() const noexcept;

 protected:
  Writer& writer() override;
  Outcome<void> with_reader(FunctionRef<Outcome<void>(Db&)> body) override;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Verifies the audit chain of a hub database without writing to it: one connection, no
// migrations, no writer (`dossier-hub audit verify --db postgresql://...`).
Outcome<AuditCheck> verify_audit_postgres(const std::string& url);

}  // namespace dh::store
