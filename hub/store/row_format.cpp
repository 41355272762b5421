#include "hub/store/row_format.hpp"

#include "hub/common/ids.hpp"

#include <array>
#include <chrono>
#include <cstdio>

namespace dh::store {

std::string to_db_time(const Timestamp& t) {
  using namespace std::chrono;
  const sys_days day = floor<days>(t.utc);
  const year_month_day ymd{day};
  const hh_mm_ss<seconds> tod{t.utc - day};
  std::array<char, 40> buf{};
  const int n = std::snprintf(
      buf.data(), buf.size(), "%04d-%02u-%02uT%02d:%02d:%02d.%09dZ", static_cast<int>(ymd.year()),
      static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), static_cast<int>(tod.hours().count()),
      static_cast<int>(tod.minutes().count()), static_cast<int>(tod.seconds().count()), static_cast<int>(t.nanos));
  return std::string(buf.data(), static_cast<std::size_t>(n));
}

Outcome<Timestamp> from_db_time(std::string_view s) {
  auto t = Timestamp::parse_rfc3339(s);
  if (!t) return make_error("store: a stored time is not RFC 3339");
  return *t;
}

Timestamp wall_clock() {
  using namespace std::chrono;
  const auto now = system_clock::now();
  Timestamp t;
  t.utc = floor<seconds>(now);
  t.nanos = static_cast<std::int32_t>(duration_cast<nanoseconds>(now - t.utc).count());
  return t;
}

std::string audit_hash(std::string_view prev_hash, std::int64_t seq, std::string_view at, std::string_view actor,
                       std::string_view action, std::string_view subject, std::string_view detail) {
  std::string s;
  s.reserve(prev_hash.size() + at.size() + actor.size() + action.size() + subject.size() + detail.size() + 32);
  s.append(prev_hash).append("\n").append(std::to_string(seq)).append("\n").append(at).append("\n");
  s.append(actor).append("\n").append(action).append("\n").append(subject).append("\n").append(detail);
  return sha256_hex(s);
}

}  // namespace dh::store
