#include "hub/store/writer.hpp"

#include "hub/store/operations.hpp"

#include <algorithm>
#include <pthread.h>

namespace dh::store {

namespace {
constexpr std::string_view kSavepoint = "SAVEPOINT op";
constexpr std::string_view kRelease = "RELEASE op";
constexpr std::string_view kRollbackTo = "ROLLBACK TO op";
constexpr std::string_view kRollback = "ROLLBACK";
}  // namespace

Writer::Writer(WriteDb& db, std::size_t max_batch, const char* thread_name)
    : db_(db), max_batch_(std::max<std::size_t>(1, max_batch)), thread_([this, thread_name] { loop(thread_name); }) {}

Writer::~Writer() {
  {
    std::lock_guard lock(m_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

bool Writer::healthy() {
  if (healthy_.load()) return true;
  bool expected = false;
  if (probing_.compare_exchange_strong(expected, true))
    submit<void>([](Db& c) { return ops::probe(c); }, [this](Outcome<void>) { probing_ = false; });
  return false;
}

WriterStats Writer::stats() const noexcept {
  WriterStats s;
  s.transactions = transactions_.load();
  s.failed_transactions = failed_transactions_.load();
  s.operations = operations_.load();
  s.second_passes = second_passes_.load();
  return s;
}

void Writer::enqueue(std::unique_ptr<WriteOp> op) {
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

void Writer::loop(const char* thread_name) {
  pthread_setname_np(pthread_self(), thread_name);  // what top -H and perf show
  std::vector<std::unique_ptr<WriteOp>> batch;
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

// One transaction, one durable commit, answers after COMMIT. First without savepoints: when every
// operation succeeds (nearly always: idempotency and status rules are checked, not violated), that
// is two statements fewer per operation, a round trip each on PostgreSQL. An operation that fails
// rolls the batch back and it runs again the careful way, each operation in its own savepoint,
// so that the failing one rolls back alone. A batch of one needs no second pass.
void Writer::run_batch(std::vector<std::unique_ptr<WriteOp>>& batch) {
  std::optional<Error> failed;
  if (auto r = db_.begin(); !r) failed = r.error();
  bool op_failed = false;
  for (auto& op : batch) {
    if (failed || op_failed) break;
    op_failed = !op->run(db_);
    // Some errors (disk full, I/O, a lost connection) end the whole transaction: the batch fails.
    if (!db_.in_transaction()) failed = db_.error("the transaction was rolled back");
  }
  if (!failed && !op_failed)
    if (auto r = db_.commit(); !r) failed = r.error();
  if ((failed || op_failed) && db_.in_transaction()) (void)db_.exec(kRollback);
  if (op_failed && !failed && batch.size() > 1) {
    run_batch_with_savepoints(batch);
    return;
  }
  settle(batch, failed);
}

void Writer::settle(std::vector<std::unique_ptr<WriteOp>>& batch, const std::optional<Error>& failed) {
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

void Writer::run_batch_with_savepoints(std::vector<std::unique_ptr<WriteOp>>& batch) {
  ++second_passes_;
  std::optional<Error> failed;
  if (auto r = db_.begin(); !r) failed = r.error();
  for (auto& op : batch) {
    if (failed) break;
    if (auto r = db_.exec(kSavepoint); !r) {
      failed = r.error();
      break;
    }
    const bool ok = op->run(db_);
    // Some errors (disk full, I/O, a lost connection) end the whole transaction: then the
    // operations before this one are gone too, and every operation of the batch fails.
    if (!db_.in_transaction()) {
      failed = db_.error("the transaction was rolled back");
      break;
    }
    if (!ok) {
      if (auto r = db_.exec(kRollbackTo); !r) {
        failed = r.error();
        break;
      }
    }
    if (auto r = db_.exec(kRelease); !r) {
      failed = r.error();
      break;
    }
  }
  if (!failed)
    if (auto r = db_.commit(); !r) failed = r.error();
  if (failed && db_.in_transaction()) (void)db_.exec(kRollback);
  settle(batch, failed);
}

}  // namespace dh::store
