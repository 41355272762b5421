#include "hub/common/text.hpp"

#include <catch2/catch.hpp>

using namespace dh;

TEST_CASE("UTF-8 validation finds the first bad byte", "[text]") {
  CHECK(text::is_valid_utf8("Nguyễn Văn An"));
  CHECK(text::is_valid_utf8(""));
  CHECK(text::is_valid_utf8("\xF0\x9F\x93\xA6"));            // U+1F4E6, 4 bytes
  CHECK(text::find_invalid_utf8("abc\xC3") == 3u);           // truncated sequence
  CHECK(text::find_invalid_utf8("ab\xC0\xAF") == 2u);        // overlong '/'
  CHECK(text::find_invalid_utf8("\xED\xA0\x80") == 0u);      // UTF-16 surrogate
  CHECK(text::find_invalid_utf8("\xF4\x90\x80\x80") == 0u);  // above U+10FFFF
  CHECK(text::find_invalid_utf8("abcdefghij\xFF") == 10u);   // past the 8-byte fast path
  CHECK(text::find_invalid_utf8("Phường \x80") == 10u);      // stray continuation byte
}

TEST_CASE("NFC: decomposed Vietnamese becomes composed, composed text is unchanged", "[text]") {
  const std::string nfd = "Nguye\xCC\x82\xCC\x83n";  // e + combining circumflex + combining tilde
  const std::string nfc = "Nguyễn";
  CHECK_FALSE(text::is_nfc(nfd));
  CHECK(text::to_nfc(nfd) == nfc);
  CHECK(text::is_nfc(nfc));
  CHECK(text::to_nfc(nfc) == nfc);
  CHECK(text::to_nfc("ascii only") == "ascii only");
}

TEST_CASE("trim, collapse and case mapping handle Vietnamese text", "[text]") {
  CHECK(text::trim("  \t Bến Nghé \xC2\xA0\n") == "Bến Nghé");
  CHECK(text::trim("   ").empty());
  CHECK(text::is_blank(" \xC2\xA0 "));
  CHECK_FALSE(text::is_blank(" a "));
  CHECK(text::collapse_spaces("  Phường   Bến \t Nghé ") == "Phường Bến Nghé");
  CHECK(text::to_upper("nguyễn văn đức") == "NGUYỄN VĂN ĐỨC");
  CHECK(text::to_lower("TRẦN THỊ ĐÀO") == "trần thị đào");
  CHECK(text::to_title("NGUYỄN VĂN ĐỨC") == "Nguyễn Văn Đức");
}
