#include "hub/observability/log.hpp"

#include <boost/json/serialize.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <pthread.h>
#include <thread>

namespace dh::obs {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::info)};
std::mutex g_write;                 // one writer of stderr at a time, whole lines
std::atomic<bool> g_direct{false};  // after exit or in a forked child: each line written at once

void write_stderr(std::string_view bytes) {
  std::lock_guard lock(g_write);
  std::fwrite(bytes.data(), 1, bytes.size(), stderr);
}

// Lines are written by a thread of their own, gathered for up to kGather: one write call for many
// lines instead of one per line. Under load the hub logs two lines per request and one per
// delivery, and a system call per line was ~4 % of the workers' CPU (docs/performance.md, "Fifth
// pass"). A line reaches stderr at most kGather after it was logged; one that a crash (SIGKILL)
// catches pending is lost, never a stored message. If stderr stalls, callers wait for room once
// kMaxPending bytes are waiting, as they waited on the write before.
class Sink {
 public:
  static Sink& instance() {
    static Sink* const sink = [] {
      auto* s = new Sink;  // never destroyed: at exit, stop() writes what is left and joins
      std::atexit([] { instance().stop(); });
      // Neither lock may be held by another thread at a fork, or the child would wait forever.
      pthread_atfork(
          [] {
            instance().m_.lock();
            g_write.lock();
          },
          [] {
            g_write.unlock();
            instance().m_.unlock();
          },
          [] { instance().forked_child(); });
      return s;
    }();
    return *sink;
  }

  void append(std::string_view line) {
    std::unique_lock lock(m_);
    room_.wait(lock, [&] { return pending_.size() < kMaxPending || stopped_; });
    if (stopped_) {
      lock.unlock();
      write_stderr(line);
      return;
    }
    const bool wake = pending_.empty();
    pending_ += line;
    if (wake) work_.notify_one();
  }

  // What is pending, written now by the caller, after any batch the thread took before it.
  void flush() {
    std::string out;
    std::unique_lock lock(m_);
    std::lock_guard batch(batch_);  // taken with m_ held: batches are written in the order taken
    out.swap(pending_);
    lock.unlock();
    room_.notify_all();
    if (!out.empty()) write_stderr(out);
  }

 private:
  static constexpr auto kGather = std::chrono::milliseconds(2);
  static constexpr std::size_t kMaxPending = std::size_t{4} << 20;

  Sink() : thread_([this] { run(); }) { pthread_setname_np(thread_.native_handle(), "dh-log"); }

  void run() {
    std::string out;
    std::unique_lock lock(m_);
    for (;;) {
      work_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
      if (stopping_ && pending_.empty()) return;
      if (!stopping_) {
        lock.unlock();
        std::this_thread::sleep_for(kGather);  // let lines gather: one write for all of them
        lock.lock();
      }
      {
        std::lock_guard batch(batch_);  // as in flush(): a later batch never overtakes this one
        out.swap(pending_);             // pending_ gets the emptied buffer back, capacity kept
        lock.unlock();
        room_.notify_all();
        if (!out.empty()) write_stderr(out);  // flush() may have taken everything meanwhile
      }
      out.clear();
      lock.lock();
    }
  }

  void stop() {
    {
      std::lock_guard lock(m_);
      if (stopped_ || child_) return;
      stopping_ = true;
    }
    work_.notify_one();
    thread_.join();
    std::lock_guard lock(m_);
    stopped_ = true;
    g_direct = true;
    room_.notify_all();
  }

  // The child of a fork has no log thread: it writes its own lines, and not the parent's pending ones.
  void forked_child() {
    child_ = true;
    stopped_ = true;
    pending_.clear();
    g_direct = true;
    g_write.unlock();
    m_.unlock();
  }

  std::mutex m_;
  std::mutex batch_;  // held from taking a batch (under m_) until it is written
  std::condition_variable work_, room_;
  std::string pending_;
  bool stopping_ = false, stopped_ = false, child_ = false;
  std::thread thread_;  // last: started once the rest is ready
};

void quoted(std::string& out, std::string_view s) {
  out += boost::json::serialize(boost::json::string_view(s.data(), s.size()));
}

}  // namespace

void Log::flush() {
  if (!g_direct) Sink::instance().flush();
}

void Log::set_level(Level level) noexcept {
  g_level = static_cast<int>(level);
}
void Log::set_level(std::string_view name) noexcept {
  if (name == "debug")
    set_level(Level::debug);
  else if (name == "warn")
    set_level(Level::warn);
  else if (name == "error")
    set_level(Level::error);
  else
    set_level(Level::info);
}
bool Log::enabled(Level level) noexcept {
  return static_cast<int>(level) >= g_level.load();
}

void Log::write(Level level, std::string_view event, std::initializer_list<Field> fields) {
  if (!enabled(level)) return;
  const auto now = std::chrono::system_clock::now();
  const auto secs = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char ts[96];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  static constexpr const char* kNames[] = {"debug", "info", "warn", "error"};
  std::string line;
  line.reserve(160);
  line += "{\"ts\":\"";
  line += ts;
  line += "\",\"level\":\"";
  line += kNames[static_cast<int>(level)];
  line += "\",\"event\":";
  quoted(line, event);
  for (const auto& [k, v] : fields) {
    line += ',';
    quoted(line, k);
    line += ':';
    quoted(line, v);
  }
  line += "}\n";
  if (g_direct)
    write_stderr(line);
  else
    Sink::instance().append(line);
}

}  // namespace dh::obs
