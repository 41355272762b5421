// The embedded store (store.hpp) on SQLite: one file, WAL, synchronous=FULL. One writer thread
// owns the write connection and commits whatever is queued in one transaction (one fsync); reads
// run on the caller's thread over a small pool of read connections.
#pragma once

#include "hub/store/row_format.hpp"
#include "hub/store/sql_store.hpp"
#include "hub/store/store.hpp"

#include <filesystem>
#include <memory>

namespace dh::store {

using SqliteStats = WriterStats;

class SqliteStore final : public SqlStore {
 public:
  // Opens or creates the file and migrates its schema; throws std::runtime_error (start-up).
  explicit SqliteStore(const SqliteOptions& options);
  // Finishes every queued write (each gets its answer), then closes.
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  // Runs through the writer (it is a write: the lease) and waits for its commit. Never call it
  // from a completion callback: it answers with an error there instead of waiting for itself.
  Outcome<std::vector<OutboxEntry>> claim(Timestamp now, std::chrono::seconds lease, std::size_t limit,
                                          const std::vector<std::string>& skip_targets) override;
  // Queued on the writer like any write; `done` runs on the writer's thread after the commit.
  void claim_async(Timestamp now, std::chrono::seconds lease, std::size_t limit, std::vector<std::string> skip_targets,
                   Done<std::vector<OutboxEntry>> done) override;

  [[nodiscard]] SqliteStats stats() const noexcept;

 protected:
  Writer& writer() override;
  Outcome<void> with_reader(FunctionRef<Outcome<void>(Db&)> body) override;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Verifies the audit chain of an existing hub file without writing to it: a read-only
// connection, no migrations, no writer (`dossier-hub audit verify`).
Outcome<AuditCheck> verify_audit_file(const std::filesystem::path& file);

}  // namespace dh::store
