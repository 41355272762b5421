// The fixed library of named transforms a field rule can apply (docs/mappings.md, "Transforms").
// Each is a pure function Value -> Value; a failure is a reason that names no personal data.
#pragma once

#include "hub/common/result.hpp"
#include "hub/mapping/value.hpp"

#include <boost/system/result.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dh::mapping {

// A date pattern such as "dd/MM/yyyy HH:mm:ss", compiled at load.
class DatePattern {
 public:
  // nullopt with `error` set when the pattern is not understood.
  static std::optional<DatePattern> compile(std::string_view pattern, std::string& error);
  // Parses text in this pattern as Vietnamese local time (+07:00). `iso` patterns also take an
  // explicit offset and convert it to +07:00. When it fails, `*shape_ok` (if given) tells whether
  // the text had the pattern's shape but was no real date or time (31/02/2025, 24:00).
  [[nodiscard]] std::optional<Timestamp> parse(std::string_view text, bool* shape_ok = nullptr) const;
  // Formats a time in this pattern, in +07:00.
  [[nodiscard]] std::string format(const Timestamp& t) const;
  [[nodiscard]] const std::string& text() const noexcept { return text_; }

 private:
  struct Token {
    char field;        // 'y','M','d','H','m','s','S', or 0 for a literal
    std::uint8_t min;  // digit counts
    std::uint8_t max;
    char literal;
  };
  std::string text_;
  bool iso_ = false;
  std::vector<Token> tokens_;
};

// A code table: the agency's codes (text) to canonical values.
struct Table {
  std::string name;
  std::map<std::string, Value, std::less<>> entries;
};

struct Transform {
  enum class Op {
    trim,
    collapse_spaces,
    upper,
    lower,
    title,
    nfc,
    digits,
    date,
    phone,
    id_number,
    money,
    integer,
    boolean,
    table,
    pad_left,
  };
  Op op = Op::trim;
  std::vector<DatePattern> patterns;  // date
  const Table* table = nullptr;       // table
  std::optional<Value> otherwise;     // table
  std::size_t width = 0;              // pad_left

  [[nodiscard]] Outcome<Value> apply(Value in) const;
};

// The names accepted in a mapping for transforms with no options.
std::optional<Transform::Op> simple_transform(std::string_view name) noexcept;
std::string_view transform_names() noexcept;

// Text form of a scalar for comparisons and text transforms: integers in decimal, booleans as
// true/false, times in RFC 3339. nullopt for no value and for non-integral doubles.
std::optional<std::string> as_text(const Value& v);

}  // namespace dh::mapping
