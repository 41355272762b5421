// The one writer of a store: write operations queue up, and one thread commits whatever is queued
// (up to max_batch) in one transaction, each operation in its own savepoint so that a failing one
// rolls back alone. Answers are given after COMMIT (or its failure), on the writer's thread.
#pragma once

#include "hub/store/db.hpp"
#include "hub/store/store.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace dh::store {

// What a writer has done since it started: for tests, benchmarks and metrics.
struct WriterStats {
  std::uint64_t transactions = 0;         // write transactions committed
  std::uint64_t failed_transactions = 0;  // BEGIN or COMMIT failed, or the database rolled one back
  std::uint64_t operations = 0;           // write operations carried by the committed transactions
  std::uint64_t second_passes = 0;        // batches run again with a savepoint per operation (one failed)
};

class WriteOp {
 public:
  virtual ~WriteOp() = default;
  // Runs inside its savepoint; false: it failed, roll it back.
  virtual bool run(Db& c) = 0;
  // After COMMIT (or its failure, `batch_error`): hands the result to the caller.
  virtual void finish(const Error* batch_error) = 0;
};

template <class T>
class TypedOp final : public WriteOp {
 public:
  TypedOp(std::function<Outcome<T>(Db&)> body, Done<T> done) : body_(std::move(body)), done_(std::move(done)) {}

  bool run(Db& c) override {
    try {
      result_.emplace(body_(c));
    } catch (...) {  // cannot happen (out of memory): fail this operation, keep the writer alive
      result_.emplace(Outcome<T>(boost::system::in_place_error, make_error("store: an operation failed unexpectedly")));
    }
    return result_->has_value();
  }

  void finish(const Error* batch_error) override {
    if (!done_) return;
    // An operation that failed alone keeps its own error; the others share the batch's.
    if (!result_ || (batch_error && result_->has_value()))
      done_(Outcome<T>(boost::system::in_place_error,
                       batch_error ? *batch_error : make_error("store: the operation did not run")));
    else
      done_(std::move(*result_));
  }

 private:
  std::function<Outcome<T>(Db&)> body_;
  Done<T> done_;
  std::optional<Outcome<T>> result_;
};

class Writer {
 public:
  // Starts the thread (named `thread_name`, at most 15 characters) that commits on `db`; `db`
  // must outlive the writer and is used by its thread only.
  Writer(WriteDb& db, std::size_t max_batch, const char* thread_name);
  // Finishes every queued write (each gets its answer), then stops the thread.
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  template <class T>
  void submit(std::function<Outcome<T>(Db&)> body, Done<T> done) {
    enqueue(std::make_unique<TypedOp<T>>(std::move(body), std::move(done)));
  }

  // Runs a write through the writer and waits for its commit. From the writer's own thread (a
  // completion callback) it answers with an error instead of waiting for itself.
  template <class T>
  Outcome<T> submit_and_wait(std::function<Outcome<T>(Db&)> body) {
    if (std::this_thread::get_id() == thread_.get_id())
      return make_error(
          "store: a synchronous write from the writer's thread (a completion callback) would wait for "
          "itself");
    auto p = std::make_shared<std::promise<Outcome<T>>>();
    auto f = p->get_future();
    submit<T>(std::move(body), [p](Outcome<T> r) { p->set_value(std::move(r)); });
    return f.get();
  }

  // Whether the last transaction committed. While it did not, each call queues one small probe
  // write (at most one at a time) that finds out whether writes work again.
  bool healthy();

  [[nodiscard]] WriterStats stats() const noexcept;

 private:
  void enqueue(std::unique_ptr<WriteOp> op);
  void loop(const char* thread_name);
  void run_batch(std::vector<std::unique_ptr<WriteOp>>& batch);
  void run_batch_with_savepoints(std::vector<std::unique_ptr<WriteOp>>& batch);
  void settle(std::vector<std::unique_ptr<WriteOp>>& batch, const std::optional<Error>& failed);

  WriteDb& db_;
  std::size_t max_batch_;

  std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<WriteOp>> queue_;
  bool stopping_ = false;

  std::atomic<bool> healthy_{true};
  std::atomic<bool> probing_{false};
  std::atomic<std::uint64_t> transactions_{0}, failed_transactions_{0}, operations_{0}, second_passes_{0};
  std::thread thread_;  // last: it starts when everything above is ready
};

}  // namespace dh::store
