// Text helpers for Vietnamese UTF-8: validation, Unicode NFC, trimming and case.
// Pure functions with no state; NFC and case mapping use ICU.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace dh::text {

// Byte offset of the first byte that is not well-formed UTF-8 (overlongs, surrogates and code
// points above U+10FFFF included), or nullopt when the whole input is valid.
std::optional<std::size_t> find_invalid_utf8(std::string_view s) noexcept;
inline bool is_valid_utf8(std::string_view s) noexcept {
  return !find_invalid_utf8(s);
}

// Line and column (1-based, columns in code points) of a byte offset, for errors in files people
// write.
std::pair<std::size_t, std::size_t> line_column(std::string_view s, std::size_t offset) noexcept;

// The byte offset of the first tab in the indentation of lines 1..`last_line` (1-based), which YAML
// forbids and a YAML parser reports as something else; nullopt when there is none.
std::optional<std::size_t> find_indent_tab(std::string_view s, std::size_t last_line) noexcept;

// True when every byte is ASCII (such text is already NFC and needs no ICU round trip).
bool is_ascii(std::string_view s) noexcept;

// Normalisation Form C. The input must be valid UTF-8. Already-NFC text is returned as is.
std::string to_nfc(std::string_view s);
bool is_nfc(std::string_view s);

// Strips ASCII whitespace and U+00A0 (no-break space) at both ends.
std::string_view trim(std::string_view s) noexcept;
// Trims and collapses every inner run of whitespace to one ASCII space.
std::string collapse_spaces(std::string_view s);
// True when the text is empty or whitespace only.
bool is_blank(std::string_view s) noexcept;

// Full Unicode case mapping with Vietnamese rules ("đ" <-> "Đ", "ễ" <-> "Ễ").
std::string to_upper(std::string_view s);
std::string to_lower(std::string_view s);
// Capitalises each word, lowercases the rest: "NGUYỄN VĂN AN" -> "Nguyễn Văn An".
std::string to_title(std::string_view s);

}  // namespace dh::text
