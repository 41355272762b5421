#include "hub/common/time.hpp"

#include <catch2/catch.hpp>

using dh::Timestamp;

TEST_CASE("RFC 3339 round trip keeps the offset", "[time]") {
  for (const char* s : {"2025-01-15T08:30:00+07:00", "2024-02-29T23:59:59Z", "2025-07-01T00:00:00.250+07:00",
                        "1999-12-31T17:00:00.000001-05:30", "2025-03-09T10:00:00.123456789+07:00"}) {
    auto t = Timestamp::parse_rfc3339(s);
    REQUIRE(t);
    CHECK(t->to_rfc3339() == s);
  }
}

TEST_CASE("RFC 3339 instants compare across offsets", "[time]") {
  auto a = Timestamp::parse_rfc3339("2025-01-15T08:30:00+07:00");
  auto b = Timestamp::parse_rfc3339("2025-01-15T01:30:00Z");
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->utc == b->utc);
  CHECK(a->offset_minutes == 420);
}

TEST_CASE("RFC 3339 refuses impossible or offset-less times", "[time]") {
  for (const char* s :
       {"2025-02-29T00:00:00+07:00", "2025-02-31T00:00:00+07:00", "2025-13-01T00:00:00Z", "2025-01-15T24:00:00Z",
        "2025-01-15T08:60:00Z", "2025-01-15T08:30:60Z", "2025-01-15T08:30:00", "2025-01-15 08:30:00+07:00",
        "2025-01-15T08:30:00+7:00", "2025-01-15T08:30:00.+07:00", "2025-01-15T08:30:00+07:00 ", "15/01/2025", ""}) {
    INFO(s);
    CHECK_FALSE(Timestamp::parse_rfc3339(s));
  }
}

TEST_CASE("civil times validate the calendar", "[time]") {
  CHECK(Timestamp::from_civil(2024, 2, 29, 0, 0, 0, 0, 420));
  CHECK_FALSE(Timestamp::from_civil(2025, 2, 29, 0, 0, 0, 0, 420));
  CHECK_FALSE(Timestamp::from_civil(2025, 4, 31, 0, 0, 0, 0, 420));
  CHECK_FALSE(Timestamp::from_civil(0, 1, 1, 0, 0, 0, 0, 420));
  CHECK(Timestamp::from_civil(2025, 1, 15, 8, 30, 0, 0, 420)->to_rfc3339() == "2025-01-15T08:30:00+07:00");
}
