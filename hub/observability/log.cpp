#include "hub/observability/log.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace dh::obs {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::info)};
std::mutex g_write;

void quoted(std::string& out, std::string_view s) {
  out += boost::json::serialize(boost::json::string(s));
}

}  // namespace

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
  std::string line = "{\"ts\":\"";
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
  std::lock_guard lock(g_write);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace dh::obs
