#include "hub/common/text.hpp"

#include <unicode/brkiter.h>
#include <unicode/bytestream.h>
#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/unistr.h>
#include <unicode/ustring.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace dh::text {
namespace {

bool is_space_ascii(unsigned char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// Length of a whitespace character at the start of s (ASCII space or U+00A0), 0 when none.
std::size_t space_at(std::string_view s) noexcept {
  if (s.empty()) return 0;
  if (is_space_ascii(static_cast<unsigned char>(s[0]))) return 1;
  if (s.size() >= 2 && static_cast<unsigned char>(s[0]) == 0xC2 && static_cast<unsigned char>(s[1]) == 0xA0) return 2;
  return 0;
}

// Length of a whitespace character ending at the end of s, 0 when none.
std::size_t space_before_end(std::string_view s) noexcept {
  if (s.empty()) return 0;
  if (is_space_ascii(static_cast<unsigned char>(s.back()))) return 1;
  if (s.size() >= 2 && static_cast<unsigned char>(s[s.size() - 2]) == 0xC2 &&
      static_cast<unsigned char>(s.back()) == 0xA0)
    return 2;
  return 0;
}

const icu::Normalizer2& nfc() {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n = icu::Normalizer2::getNFCInstance(status);
  if (U_FAILURE(status) || n == nullptr) throw std::runtime_error("ICU NFC normaliser unavailable");
  return *n;
}

std::string to_utf8(const icu::UnicodeString& u) {
  std::string out;
  u.toUTF8String(out);
  return out;
}

icu::UnicodeString from_utf8(std::string_view s) {
  return icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), static_cast<int32_t>(s.size())));
}

}  // namespace

std::optional<std::size_t> find_invalid_utf8(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    // ASCII fast path, eight bytes at a time.
    if (i + 8 <= n) {
      std::uint64_t w;
      std::memcpy(&w, p + i, 8);
      if ((w & 0x8080808080808080ULL) == 0) {
        i += 8;
        continue;
      }
    }
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0)
        lo = 0xA0;  // no overlongs
      else if (c == 0xED)
        hi = 0x9F;  // no UTF-16 surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0)
        lo = 0x90;  // no overlongs
      else if (c == 0xF4)
        hi = 0x8F;  // nothing above U+10FFFF
    } else {
      return i;
    }
    if (i + len > n) return i;
    if (p[i + 1] < lo || p[i + 1] > hi) return i;
    for (std::size_t k = 2; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return i;
    }
    i += len;
  }
  return std::nullopt;
}

bool is_ascii(std::string_view s) noexcept {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

// Both work on UTF-8 directly (no UTF-16 round trip): most text is already NFC and costs one scan.
bool is_nfc(std::string_view s) {
  if (is_ascii(s)) return true;
  UErrorCode status = U_ZERO_ERROR;
  const bool yes = nfc().isNormalizedUTF8(icu::StringPiece(s.data(), static_cast<int32_t>(s.size())), status);
  return U_SUCCESS(status) && yes;
}

std::string to_nfc(std::string_view s) {
  if (is_nfc(s)) return std::string(s);
  std::string out;
  out.reserve(s.size());
  icu::StringByteSink<std::string> sink(&out, static_cast<int32_t>(s.size()));
  UErrorCode status = U_ZERO_ERROR;
  nfc().normalizeUTF8(0, icu::StringPiece(s.data(), static_cast<int32_t>(s.size())), sink, nullptr, status);
  if (U_FAILURE(status)) throw std::runtime_error("ICU NFC normalisation failed");
  return out;
}

std::string_view trim(std::string_view s) noexcept {
  for (std::size_t k; (k = space_at(s)) != 0;) s.remove_prefix(k);
  for (std::size_t k; (k = space_before_end(s)) != 0;) s.remove_suffix(k);
  return s;
}

std::string collapse_spaces(std::string_view s) {
  s = trim(s);
  std::string out;
  out.reserve(s.size());
  bool pending_space = false;
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t k = is_space_ascii(c) ? 1 : 0;
    if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0xA0) k = 2;
    if (k != 0) {
      pending_space = true;
      i += k;
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(s[i++]);
  }
  return out;
}

std::pair<std::size_t, std::size_t> line_column(std::string_view s, std::size_t offset) noexcept {
  std::size_t line = 1, column = 1;
  for (std::size_t i = 0; i < offset && i < s.size(); ++i) {
    if (s[i] == '\n') {
      ++line;
      column = 1;
    } else if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      ++column;
    }
  }
  return {line, column};
}

std::optional<std::size_t> find_indent_tab(std::string_view s, std::size_t last_line) noexcept {
  bool indent = true;  // still in the leading whitespace of the line
  std::size_t line = 1;
  for (std::size_t i = 0; i < s.size() && line <= last_line; ++i) {
    if (s[i] == '\n') {
      ++line;
      indent = true;
    } else if (s[i] == '\t' && indent) {
      return i;
    } else if (s[i] != ' ') {
      indent = false;
    }
  }
  return std::nullopt;
}

bool is_blank(std::string_view s) noexcept {
  return trim(s).empty();
}

// Constructing an icu::Locale parses its name: once is enough.
const icu::Locale& vietnamese() {
  static const icu::Locale vi("vi");
  return vi;
}

namespace {

// ASCII maps the same in every locale that matters here (Vietnamese has no dotless i): no ICU.
std::string ascii_case(std::string_view s, bool upper) {
  std::string out(s);
  for (char& c : out) {
    if (upper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (!upper && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

std::string to_upper(std::string_view s) {
  if (is_ascii(s)) return ascii_case(s, true);
  icu::UnicodeString u = from_utf8(s);
  u.toUpper(vietnamese());
  return to_utf8(u);
}

std::string to_lower(std::string_view s) {
  if (is_ascii(s)) return ascii_case(s, false);
  icu::UnicodeString u = from_utf8(s);
  u.toLower(vietnamese());
  return to_utf8(u);
}

namespace {

// Title case needs word boundaries: without an iterator, ICU builds a word BreakIterator (rules,
// dictionaries) on every call, which cost more than the rest of a translation's transforms. One per
// thread, reused (toTitle sets its text).
icu::BreakIterator* word_breaks() {
  thread_local std::unique_ptr<icu::BreakIterator> it = [] {
    UErrorCode status = U_ZERO_ERROR;
    std::unique_ptr<icu::BreakIterator> b(icu::BreakIterator::createWordInstance(vietnamese(), status));
    if (U_FAILURE(status)) throw std::runtime_error("ICU cannot make a word break iterator");
    return b;
  }();
  return it.get();
}

}  // namespace

std::string to_title(std::string_view s) {
  icu::UnicodeString u = from_utf8(s);
  u.toTitle(word_breaks(), vietnamese());
  return to_utf8(u);
}

}  // namespace dh::text
