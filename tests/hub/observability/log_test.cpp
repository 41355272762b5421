// The JSON log (hub/observability/log.hpp) as it reaches stderr: standard error is pointed at a
// temporary file for each case, and every line read back is parsed as JSON.
#include "hub/observability/log.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using dh::obs::Log;

// Standard error goes to a file while this lives.
class CapturedStderr {
 public:
  CapturedStderr()
      : path_(std::filesystem::temp_directory_path() /
              ("dh-log-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++) + ".txt")) {
    Log::flush();
    saved_ = ::dup(2);
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(::dup2(fd, 2) == 2);
    ::close(fd);
  }
  ~CapturedStderr() {
    Log::flush();
    ::dup2(saved_, 2);
    ::close(saved_);
    std::filesystem::remove(path_);
  }
  CapturedStderr(const CapturedStderr&) = delete;
  CapturedStderr& operator=(const CapturedStderr&) = delete;

  [[nodiscard]] std::string text() const {
    std::ifstream in(path_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  // Every line, parsed; a line that is not one JSON object fails the test.
  [[nodiscard]] std::vector<boost::json::object> lines() const {
    std::vector<boost::json::object> out;
    std::istringstream in(text());
    for (std::string line; std::getline(in, line);) {
      boost::system::error_code ec;
      auto v = boost::json::parse(line, ec);
      INFO(line);
      REQUIRE(!ec);
      REQUIRE(v.is_object());
      out.push_back(v.as_object());
    }
    return out;
  }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
  int saved_ = -1;
};

std::string field(const boost::json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string("<missing>");
}

}  // namespace

TEST_CASE("each event is one JSON line, in the order logged, its fields escaped") {
  CapturedStderr err;
  const std::string tricky = "quote \" backslash \\ newline \n tab \t bell \x07 and Hồ Chí Minh";
  Log::info("first", {{"request_id", "r-1"}});
  Log::warn("second", {{"detail", tricky}, {"k\"ey", "v"}});
  Log::error("third");
  Log::debug("not shown at info");
  Log::flush();
  const auto lines = err.lines();
  REQUIRE(lines.size() == 3);
  CHECK(field(lines[0], "event") == "first");
  CHECK(field(lines[0], "level") == "info");
  CHECK(field(lines[0], "request_id") == "r-1");
  CHECK(field(lines[1], "event") == "second");
  CHECK(field(lines[1], "level") == "warn");
  CHECK(field(lines[1], "detail") == tricky);
  CHECK(field(lines[1], "k\"ey") == "v");
  CHECK(field(lines[2], "level") == "error");
  CHECK(field(lines[2], "ts").size() == 24);  // 2026-12-05T00:00:00.000Z
}

TEST_CASE("lines logged by many threads at once all arrive, each once and whole") {
  CapturedStderr err;
  constexpr int kThreads = 8, kEach = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([t] {
      for (int i = 0; i < kEach; ++i)
        Log::info("line", {{"id", std::to_string(t) + "-" + std::to_string(i)}, {"pad", std::string(100, 'x')}});
    });
  for (auto& t : threads) t.join();
  Log::flush();
  std::set<std::string> ids;
  for (const auto& line : err.lines()) CHECK(ids.insert(field(line, "id")).second);
  CHECK(ids.size() == static_cast<std::size_t>(kThreads * kEach));
}

TEST_CASE("a line reaches stderr without a flush, from the log's own thread") {
  CapturedStderr err;
  Log::info("unflushed", {{"n", "1"}});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (err.text().find("unflushed") == std::string::npos && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  CHECK(err.text().find("\"event\":\"unflushed\"") != std::string::npos);
}

TEST_CASE("a forked child writes its own lines at once, and not its parent's pending ones") {
  CapturedStderr err;
  Log::info("before_fork");  // maybe still pending in the parent when it forks
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    Log::info("in_child");
    ::_exit(0);  // no exit handlers: the line must already be written
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  Log::flush();
  int before = 0, in_child = 0;
  for (const auto& line : err.lines()) {
    before += field(line, "event") == "before_fork" ? 1 : 0;
    in_child += field(line, "event") == "in_child" ? 1 : 0;
  }
  CHECK(before == 1);
  CHECK(in_child == 1);
}
