// JSON log lines on standard error, one event per line: {"ts", "level", "event", ...fields},
// written by a thread of their own within a few milliseconds, and all of them at exit.
// Fields are ids, codes, counts and statuses: callers never pass names, ID numbers, phones or
// addresses (a test greps the logs of a full run for the samples' personal data).
#pragma once

#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace dh::obs {

enum class Level { debug, info, warn, error };

class Log {
 public:
  using Field = std::pair<std::string_view, std::string_view>;

  static void set_level(Level level) noexcept;
  static void set_level(std::string_view name) noexcept;
  static bool enabled(Level level) noexcept;
  static void write(Level level, std::string_view event, std::initializer_list<Field> fields = {});
  // Writes every line logged so far, now: before std::_Exit, which skips the exit handlers.
  static void flush();

  static void debug(std::string_view e, std::initializer_list<Field> f = {}) { write(Level::debug, e, f); }
  static void info(std::string_view e, std::initializer_list<Field> f = {}) { write(Level::info, e, f); }
  static void warn(std::string_view e, std::initializer_list<Field> f = {}) { write(Level::warn, e, f); }
  static void error(std::string_view e, std::initializer_list<Field> f = {}) { write(Level::error, e, f); }
};

}  // namespace dh::obs
