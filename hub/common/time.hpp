// Instants with the UTC offset they were written in: the dossier keeps "+07:00" as the agency
// meant it. Parsing and formatting of RFC 3339; validation of civil dates (no 31/02).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dh {

// Vietnamese local time: Asia/Ho_Chi_Minh, UTC+07:00, no daylight saving.
inline constexpr int kVietnamOffsetMinutes = 7 * 60;

struct Timestamp {
  std::chrono::sys_seconds utc{};   // the instant, whole seconds
  std::int32_t nanos = 0;           // fraction of a second, 0..999'999'999
  std::int16_t offset_minutes = 0;  // offset it is written with, -23:59..+23:59

  // A civil date and time at the given offset; nullopt when any part is out of range
  // (month 13, 31 February, hour 24, second 60) or the year is outside 0001..9999.
  static std::optional<Timestamp> from_civil(int year, int month, int day, int hour, int minute, int second,
                                             std::int32_t nanos, int offset_minutes);

  // A clock reading, written with the given offset.
  static Timestamp from_system(std::chrono::system_clock::time_point t, int offset_minutes = 0);

  // RFC 3339 `date-time`: "2025-01-15T08:30:00+07:00", "...Z", optional fraction. Strict: the
  // offset is required, "T" may be "t" or a space is NOT accepted.
  static std::optional<Timestamp> parse_rfc3339(std::string_view s);

  // RFC 3339 with the numeric offset ("Z" for UTC); a fraction only when non-zero, in 3, 6 or 9
  // digits.
  [[nodiscard]] std::string to_rfc3339() const;

  friend bool operator==(const Timestamp&, const Timestamp&) = default;
};

}  // namespace dh
