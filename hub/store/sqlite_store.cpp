// The SQLite store: the shared SQL logic (operations.hpp) through one Writer on the write
// connection (BEGIN IMMEDIATE ... COMMIT, one fsync per batch), reads on a pool of query_only
// connections, and its own claim: select the due entries, then lease them, inside the writer's
// transaction (SQLite has one writer, so no two claims ever see the same free entry).
#include "hub/store/sqlite_store.hpp"

#include "hub/store/operations.hpp"
#include "hub/store/schema.hpp"
#include "hub/store/sqlite.hpp"

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <mutex>
#include <optional>
#include <pthread.h>
#include <sqlite3.h>
#include <stdexcept>
#include <sys/file.h>
#include <thread>
#include <unistd.h>
#include <utility>

namespace dh::store {

using sqlite::Connection;

namespace {

// The claim reads two partial indexes (schema.cpp, migration 3): free entries by (target, due_at,
// id) and leased ones by lease end. It never walks entries it cannot take, so neither the entries
// in flight nor a backlog behind an open breaker (skipped targets) make it slower: during an
// outage of the postal core a scan over the whole outbox ran on every poll and took the writer.
//
// Leases that ran out (their holder stalled past `lease`) are candidates like free entries, and
// until a claim takes one its holder may still extend it.
constexpr std::string_view kExpired =
    "SELECT due_at, id, target FROM outbox WHERE lease_until IS NOT NULL AND lease_until <= ?1";
// The distinct targets with free entries: one index seek each (a loose index scan).
constexpr std::string_view kFreeTargets =
    "WITH RECURSIVE t(target) AS (SELECT min(target) FROM outbox WHERE lease_until IS NULL "
    "UNION ALL SELECT (SELECT min(target) FROM outbox WHERE lease_until IS NULL AND target > t.target) FROM t "
    "WHERE t.target IS NOT NULL) SELECT target FROM t WHERE target IS NOT NULL";
// One target's first due entries, from the index alone; ?4 cuts off what cannot make the claim.
constexpr std::string_view kDueOfTarget =
    "SELECT due_at, id FROM outbox WHERE lease_until IS NULL AND target = ?1 AND due_at <= ?2 AND due_at <= ?4 "
    "ORDER BY due_at, id LIMIT ?3";
constexpr std::string_view kTakeEntry =
    "UPDATE outbox SET lease_until = ?2 WHERE id = ?1 "
    "RETURNING id, kind, target, hub_id, url, content_type, payload, due_at, attempts, last_error";

// The `limit` free entries due first, over every target not skipped, oldest first (ties by id),
// leased until now + lease.
Outcome<std::vector<OutboxEntry>> do_claim(Db& c, const Timestamp& now, std::chrono::seconds lease, std::size_t limit,
                                           const std::vector<std::string>& skip_targets) {
  const std::string now_text = to_db_time(now);
  auto skipped = [&](const std::string& target) {
    return std::find(skip_targets.begin(), skip_targets.end(), target) != skip_targets.end();
  };
  std::vector<std::pair<std::string, std::string>> due;  // (due_at, id)
  auto expired = c.each(
      kExpired, [&](Params& q) { q.bind(1, now_text); },
      [&](const Row& q) -> Outcome<void> {
        if (!skipped(q.text(2))) due.emplace_back(q.text(0), q.text(1));
        return {};
      });
  if (!expired) return expired.error();
  std::sort(due.begin(), due.end());
  if (due.size() > limit) due.resize(limit);

  std::vector<std::string> targets;
  auto t = c.each(
      kFreeTargets, [](Params&) {},
      [&](const Row& q) -> Outcome<void> {
        targets.push_back(q.text(0));
        return {};
      });
  if (!t) return t.error();

  // A k-way pick: each target's first `limit`, kept sorted and cut to `limit`; once full, only
  // entries due no later than the last kept one can still enter.
  for (const auto& target : targets) {
    if (skipped(target)) continue;
    const std::string cutoff = due.size() < limit ? now_text : due.back().first;
    auto r = c.each(
        kDueOfTarget,
        [&](Params& q) { q.bind(1, target).bind(2, now_text).bind(3, ops::as_int64(limit)).bind(4, cutoff); },
        [&](const Row& q) -> Outcome<void> {
          due.emplace_back(q.text(0), q.text(1));
          return {};
        });
    if (!r) return r.error();
    std::sort(due.begin(), due.end());
    if (due.size() > limit) due.resize(limit);
  }

  Timestamp until = now;
  until.utc += lease;
  const std::string until_text = to_db_time(until);
  std::vector<OutboxEntry> out;
  out.reserve(due.size());
  for (const auto& [at, id] : due) {
    auto r = c.each(
        kTakeEntry, [&](Params& q) { q.bind(1, id).bind(2, until_text); },
        [&](const Row& q) { return ops::append_outbox_row(q, out); });
    if (!r) return r.error();
  }
  return out;
}

// The claim as an operation for the writer (leasing is a write).
std::function<Outcome<std::vector<OutboxEntry>>(Db&)> claim_op(Timestamp now, std::chrono::seconds lease,
                                                               std::size_t limit,
                                                               const std::vector<std::string>& skip_targets) {
  return [now, lease, limit, skip_targets](Db& c) { return do_claim(c, now, lease, limit, skip_targets); };
}

// Read connections, taken by the calling thread for one read and given back.
class ReadPool {
 public:
  ReadPool(std::filesystem::path file, std::chrono::milliseconds busy_timeout)
      : file_(std::move(file)), busy_timeout_(busy_timeout) {}

  Outcome<void> with(FunctionRef<Outcome<void>(Db&)> body) {
    std::unique_ptr<Connection> c;
    {
      std::lock_guard lock(m_);
      if (!idle_.empty()) {
        c = std::move(idle_.back());
        idle_.pop_back();
      }
    }
    if (!c) {
      auto opened = Connection::open(file_, Connection::Mode::read, busy_timeout_);
      if (!opened) return opened.error();
      c = std::move(*opened);
    }
    auto r = body(*c);
    std::lock_guard lock(m_);
    if (idle_.size() < kMaxIdle) idle_.push_back(std::move(c));
    return r;
  }

 private:
  static constexpr std::size_t kMaxIdle = 8;  // more readers at once open more, closed after use

  std::filesystem::path file_;
  std::chrono::milliseconds busy_timeout_;
  std::mutex m_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

// The embedded store belongs to one process: an exclusive flock(2) on the database file, held
// while the store is open and dropped by the kernel when the process ends, however it ends.
// (SQLite's own locks are fcntl(2) locks: independent of flock on Linux, so they do not clash.)
class OwnerLock {
 public:
  explicit OwnerLock(const std::filesystem::path& file)
      : fd_(::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)) {  // an empty file is an empty database
    if (fd_ < 0) throw std::runtime_error("store: cannot open " + file.string() + ": " + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int e = errno;
      ::close(fd_);
      if (e == EWOULDBLOCK)
        throw std::runtime_error("store: " + file.string() +
                                 " is in use by another dossier-hub process; the embedded store is one process's "
                                 "(run several instances in shared mode, docs/operations.md)");
      throw std::runtime_error("store: cannot lock " + file.string() + ": " + std::strerror(e));
    }
  }
  ~OwnerLock() { ::close(fd_); }
  OwnerLock(const OwnerLock&) = delete;
  OwnerLock& operator=(const OwnerLock&) = delete;

 private:
  int fd_;
};

std::unique_ptr<Connection> open_writer(const SqliteOptions& o) {
  auto c = Connection::open(o.file, Connection::Mode::write, o.busy_timeout);
  if (!c) throw std::runtime_error(c.error().message);
  migrate(**c, migrations(), "BEGIN IMMEDIATE;");
  // This process owns the file (OwnerLock): a lease still set was taken by a process that died
  // (SIGKILL, power loss). Its entries are due again now, not when that lease would have ended.
  if (auto r = (*c)->exec_script("UPDATE outbox SET lease_until = NULL WHERE lease_until IS NOT NULL;"); !r)
    throw std::runtime_error(r.error().message);
  return std::move(*c);
}

// Copies the WAL back into the database file on a thread of its own, so that the writer never
// stops for it: SQLite's automatic checkpoint runs inside the COMMIT that crosses the threshold,
// and with synchronous=FULL that is a second round of page writes and an fsync of the database
// file on the writer's critical path. Here the writer only counts (SQLite's WAL hook, after each
// commit) and wakes this thread, which runs PASSIVE checkpoints: they never block the writer or
// the readers, and they copy whatever frames no reader still needs.
class Checkpointer {
 public:
  // WAL pages that make a checkpoint due: 10 times SQLite's default (~40 MB of WAL). A page
  // written by several commits between two checkpoints is copied once; at 1,000 the checkpoints
  // copied nearly every WAL frame. Under load (docs/performance.md, "Fourth pass"): 16 % fewer
  // bytes written per accept and a shorter drain, for a p99 a few ms higher during the bursts.
  static constexpr int kPages = 10000;

  Checkpointer(std::filesystem::path file, std::chrono::milliseconds busy_timeout, Connection& writer)
      : file_(std::move(file)), busy_timeout_(busy_timeout), writer_(writer.raw()) {
    sqlite3_wal_autocheckpoint(writer_, 0);
    sqlite3_wal_hook(writer_, &Checkpointer::on_commit, this);
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

}  // namespace

class SqliteStore::Impl {
 public:
  explicit Impl(const SqliteOptions& o)
      : owner_(o.file),
        connection_(open_writer(o)),
        reads_(o.file, o.busy_timeout),
        checkpointer_(o.file, o.busy_timeout, *connection_),
        writer_(*connection_, o.max_batch, "dh-store-write") {}

  OwnerLock owner_;                         // first: held until everything below has closed
  std::unique_ptr<Connection> connection_;  // the writer's, used by its thread only
  ReadPool reads_;
  Checkpointer checkpointer_;  // before the writer: stops after it, unhooks before the connection closes
  Writer writer_;              // last: stops (finishing its queue) before the connection closes
};

SqliteStore::SqliteStore(const SqliteOptions& options) : impl_(std::make_unique<Impl>(options)) {}
SqliteStore::~SqliteStore() = default;

Outcome<std::vector<OutboxEntry>> SqliteStore::claim(Timestamp now, std::chrono::seconds lease, std::size_t limit,
                                                     const std::vector<std::string>& skip_targets) {
  return impl_->writer_.submit_and_wait<std::vector<OutboxEntry>>(claim_op(now, lease, limit, skip_targets));
}

void SqliteStore::claim_async(Timestamp now, std::chrono::seconds lease, std::size_t limit,
                              std::vector<std::string> skip_targets, Done<std::vector<OutboxEntry>> done) {
  impl_->writer_.submit<std::vector<OutboxEntry>>(claim_op(now, lease, limit, skip_targets), std::move(done));
}

SqliteStats SqliteStore::stats() const noexcept {
  return impl_->writer_.stats();
}

Writer& SqliteStore::writer() {
  return impl_->writer_;
}

Outcome<void> SqliteStore::with_reader(FunctionRef<Outcome<void>(Db&)> body) {
  return impl_->reads_.with(body);
}

Outcome<AuditCheck> verify_audit_file(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) return make_error("store: " + file.string() + ": no such file");
  auto c = Connection::open(file, Connection::Mode::read_only, std::chrono::milliseconds(5000));
  if (!c) return c.error();
  return ops::verify_audit(**c);
}

}  // namespace dh::store
