#include "hub/common/ids.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

// The 48-bit millisecond time an id starts with (its first 10 base32 digits hold 50 bits).
std::uint64_t id_millis(const std::string& id) {
  constexpr std::string_view kAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  std::uint64_t v = 0;
  for (std::size_t k = 0; k < 10; ++k) v = (v << 5) | kAlphabet.find(id[k]);
  return v;
}

}  // namespace

TEST_CASE("ids: ULID layout, the time first, Crockford base32", "[ids]") {
  const auto t = std::chrono::system_clock::time_point(1'764'000'000'123ms);
  const std::string id = dh::make_id(t);
  REQUIRE(id.size() == 26);
  CHECK(id.find_first_not_of("0123456789ABCDEFGHJKMNPQRSTVWXYZ") == std::string::npos);
  CHECK(id[0] <= '7');  // 130 digits' bits, the top two are zero
  CHECK(id_millis(id) == 1'764'000'000'123ULL);
  CHECK(dh::make_id(std::chrono::system_clock::time_point(0ms)).substr(0, 10) == "0000000000");
}

TEST_CASE("ids: unique, and sorting by id sorts by time", "[ids]") {
  std::vector<std::string> ids;
  for (int ms = 0; ms < 50; ++ms)
    for (int i = 0; i < 200; ++i)
      ids.push_back(
          dh::make_id(std::chrono::system_clock::time_point(std::chrono::milliseconds(1'764'000'000'000 + ms))));
  CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == ids.size());
  std::vector<std::string> sorted = ids;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 1; i < sorted.size(); ++i) CHECK(id_millis(sorted[i - 1]) <= id_millis(sorted[i]));
  // Random bits vary: the last 16 digits of ids made in one millisecond are not all alike.
  std::set<std::string> tails;
  for (std::size_t i = 0; i < 200; ++i) tails.insert(ids[i].substr(10));
  CHECK(tails.size() == 200);
}

TEST_CASE("ids: threads draw different random bits", "[ids]") {
  const auto t = std::chrono::system_clock::time_point(1'764'000'000'000ms);
  std::vector<std::string> a, b;
  std::thread one([&] {
    for (int i = 0; i < 1000; ++i) a.push_back(dh::make_id(t));
  });
  std::thread two([&] {
    for (int i = 0; i < 1000; ++i) b.push_back(dh::make_id(t));
  });
  one.join();
  two.join();
  std::set<std::string> all(a.begin(), a.end());
  all.insert(b.begin(), b.end());
  CHECK(all.size() == 2000);
}
