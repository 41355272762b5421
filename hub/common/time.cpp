#include "hub/common/time.hpp"

#include <array>
#include <cstdio>

namespace dh {
namespace {

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    const char c = s[i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

}  // namespace

std::optional<Timestamp> Timestamp::from_civil(int year, int month, int day, int hour, int minute, int second,
                                               std::int32_t nanos, int offset_minutes) {
  using namespace std::chrono;
  if (year < 1 || year > 9999) return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > 31) return std::nullopt;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return std::nullopt;
  if (nanos < 0 || nanos > 999'999'999) return std::nullopt;
  if (offset_minutes < -(23 * 60 + 59) || offset_minutes > 23 * 60 + 59) return std::nullopt;
  const year_month_day ymd{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
                           std::chrono::day{static_cast<unsigned>(day)}};
  if (!ymd.ok()) return std::nullopt;
  const sys_seconds local_as_utc = sys_days{ymd} + hours{hour} + minutes{minute} + seconds{second};
  Timestamp t;
  t.utc = local_as_utc - minutes{offset_minutes};
  t.nanos = nanos;
  t.offset_minutes = static_cast<std::int16_t>(offset_minutes);
  return t;
}

Timestamp Timestamp::from_system(std::chrono::system_clock::time_point t, int offset_minutes) {
  Timestamp ts;
  ts.utc = std::chrono::floor<std::chrono::seconds>(t);
  ts.nanos = static_cast<std::int32_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t - ts.utc).count());
  ts.offset_minutes = static_cast<std::int16_t>(offset_minutes);
  return ts;
}

std::optional<Timestamp> Timestamp::parse_rfc3339(std::string_view s) {
  // 2025-01-15T08:30:00[.fff]Z|+07:00
  int y, mo, d, h, mi, se;
  if (s.size() < 20) return std::nullopt;
  if (!digits(s, 0, 4, y) || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' || !digits(s, 8, 2, d))
    return std::nullopt;
  if (s[10] != 'T' && s[10] != 't') return std::nullopt;
  if (!digits(s, 11, 2, h) || s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':' || !digits(s, 17, 2, se))
    return std::nullopt;
  std::size_t pos = 19;
  std::int32_t nanos = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    std::size_t n = 0;
    std::int32_t scale = 100'000'000;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (n < 9) {
        nanos += (s[pos] - '0') * scale;
        scale /= 10;
      }
      ++pos;
      ++n;
    }
    if (n == 0) return std::nullopt;
  }
  if (pos >= s.size()) return std::nullopt;
  int offset = 0;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    int oh, om;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' || !digits(s, pos + 4, 2, om))
      return std::nullopt;
    if (oh > 23 || om > 59) return std::nullopt;
    offset = (oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  return from_civil(y, mo, d, h, mi, se, nanos, offset);
}

std::string Timestamp::to_rfc3339() const {
  using namespace std::chrono;
  const sys_seconds local = utc + minutes{offset_minutes};
  const sys_days day = floor<days>(local);
  const year_month_day ymd{day};
  const hh_mm_ss<seconds> tod{local - day};
  std::array<char, 48> buf{};
  int n = std::snprintf(buf.data(), buf.size(), "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(ymd.year()),
                        static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                        static_cast<int>(tod.hours().count()), static_cast<int>(tod.minutes().count()),
                        static_cast<int>(tod.seconds().count()));
  std::string out(buf.data(), static_cast<std::size_t>(n));
  if (nanos != 0) {
    if (nanos % 1'000'000 == 0)
      n = std::snprintf(buf.data(), buf.size(), ".%03d", nanos / 1'000'000);
    else if (nanos % 1'000 == 0)
      n = std::snprintf(buf.data(), buf.size(), ".%06d", nanos / 1'000);
    else
      n = std::snprintf(buf.data(), buf.size(), ".%09d", nanos);
    out.append(buf.data(), static_cast<std::size_t>(n));
  }
  if (offset_minutes == 0) {
    out += 'Z';
  } else {
    const int abs = offset_minutes < 0 ? -offset_minutes : offset_minutes;
    n = std::snprintf(buf.data(), buf.size(), "%c%02d:%02d", offset_minutes < 0 ? '-' : '+', abs / 60, abs % 60);
    out.append(buf.data(), static_cast<std::size_t>(n));
  }
  return out;
}

}  // namespace dh
