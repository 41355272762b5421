#include "hub/mapping/transform.hpp"

#include "hub/common/text.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace dh::mapping {

const char* type_name(const Value& v) noexcept {
  switch (v.index()) {
    case 0:
      return "nothing";
    case 1:
      return "text";
    case 2:
      return "an integer";
    case 3:
      return "a number";
    case 4:
      return "a boolean";
    default:
      return "a time";
  }
}

std::optional<std::string> as_text(const Value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* i = std::get_if<std::int64_t>(&v)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&v)) {
    if (std::isfinite(*d) && std::trunc(*d) == *d && std::fabs(*d) < 9.0e15)
      return std::to_string(static_cast<std::int64_t>(*d));
    return std::nullopt;
  }
  if (const auto* b = std::get_if<bool>(&v)) return std::string(*b ? "true" : "false");
  if (const auto* t = std::get_if<Timestamp>(&v)) return t->to_rfc3339();
  return std::nullopt;
}

namespace {

using R = Outcome<Value>;

bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

std::optional<std::int64_t> parse_int(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::size_t start = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  if (start == s.size()) return std::nullopt;
  for (std::size_t i = start; i < s.size(); ++i)
    if (!is_digit(s[i])) return std::nullopt;
  std::int64_t v = 0;
  const char* b = s.data() + (s[0] == '+' ? 1 : 0);
  auto [p, ec] = std::from_chars(b, s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<std::int64_t> integral(const Value& v) {
  if (const auto* i = std::get_if<std::int64_t>(&v)) return *i;
  if (const auto* d = std::get_if<double>(&v)) {
    if (std::isfinite(*d) && std::trunc(*d) == *d && std::fabs(*d) < 9.0e15) return static_cast<std::int64_t>(*d);
  }
  return std::nullopt;
}

R text_op(const Value& in, const char* name, std::string (*fn)(std::string_view)) {
  auto s = as_text(in);
  if (!s) return make_error(std::string(name) + " needs text, got " + type_name(in));
  return Value(fn(*s));
}

std::string keep_digits(std::string_view s) {
  std::string out;
  for (char c : s)
    if (is_digit(c)) out.push_back(c);
  return out;
}

R phone(const Value& in) {
  auto s = as_text(in);
  if (!s) return make_error(std::string("phone needs text, got ") + type_name(in));
  std::string_view t = text::trim(*s);
  bool plus = !t.empty() && t.front() == '+';
  std::string d;
  for (char c : t) {
    if (is_digit(c))
      d.push_back(c);
    else if (c == ' ' || c == '.' || c == '-' || c == '(' || c == ')' || (c == '+' && d.empty()))
      continue;
    else
      return make_error("is not a Vietnamese phone number");
  }
  std::string national;  // without the leading 0 or country code
  if (plus) {
    if (d.rfind("84", 0) != 0) return make_error("is not a Vietnamese phone number");
    national = d.substr(2);
  } else if (d.rfind("0084", 0) == 0) {
    national = d.substr(4);
  } else if (d.rfind("0", 0) == 0) {
    national = d.substr(1);
  } else if (d.rfind("84", 0) == 0 && (d.size() == 11 || d.size() == 12)) {
    national = d.substr(2);
  } else {
    return make_error("is not a Vietnamese phone number");
  }
  // Mobiles: 9 significant digits starting 3, 5, 7, 8 or 9 (since the 2018 renumbering).
  // Landlines: 10, an area code 2x then 8 digits.
  const bool mobile = national.size() == 9 && std::string_view("35789").find(national[0]) != std::string_view::npos;
  const bool landline = national.size() == 10 && national[0] == '2';
  if (!mobile && !landline) return make_error("is not a Vietnamese phone number");
  return Value("+84" + national);
}

// The province codes of the first three digits of a CCCD: the 63 provinces and cities as they were
// before 1 July 2025, by their GSO codes (01 Hà Nội ... 96 Cà Mau), written with a leading 0. The
// code is that of the province where the birth was registered, and a personal identification
// number never changes when provinces merge, so numbers carry the codes of the old 63. The numbers
// between (003, 005, 007, 009, 013, ...), 000 and 097-999 are no province's code.
constexpr std::array<std::uint8_t, 63> kCccdProvinces = {1,  2,  4,  6,  8,  10, 11, 12, 14, 15, 17, 19, 20, 22, 24, 25,
                                                         26, 27, 30, 31, 33, 34, 35, 36, 37, 38, 40, 42, 44, 45, 46, 48,
                                                         49, 51, 52, 54, 56, 58, 60, 62, 64, 66, 67, 68, 70, 72, 74, 75,
                                                         77, 79, 80, 82, 83, 84, 86, 87, 89, 91, 92, 93, 94, 95, 96};

bool is_cccd_province(int code) noexcept {
  return std::binary_search(kCccdProvinces.begin(), kCccdProvinces.end(), code);
}

R id_number(const Value& in) {
  auto s = as_text(in);
  if (!s) return make_error(std::string("id_number needs text, got ") + type_name(in));
  std::string d;
  for (char c : text::trim(*s)) {
    if (is_digit(c))
      d.push_back(c);
    else if (c != ' ')
      return make_error("must be a 12-digit CCCD or 9-digit CMND number");
  }
  if (d.size() == 12) {
    // Digits 1-3: the province code. Digit 4: century and sex (0/1 the 20th century, male/female;
    // 2/3 the 21st; 4/5 the 22nd; 6/7 the 23rd; 8/9 the 24th), so every digit is one. Digits 5-6:
    // the last two digits of the birth year, any two. The transform has no clock: a birth year
    // after today is not refused here. Digits 7-12: a serial number.
    const int province = (d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0');
    if (!is_cccd_province(province))
      return make_error("is not a CCCD number: its first three digits are not a province code");
    return Value(std::move(d));
  }
  if (d.size() == 9) return Value(std::move(d));
  return make_error("must be a 12-digit CCCD or 9-digit CMND number");
}

R money(const Value& in) {
  if (auto i = integral(in)) {
    if (*i < 0) return make_error("must not be negative");
    return Value(*i);
  }
  if (std::holds_alternative<double>(in)) return make_error("is not a whole number of đồng");
  const auto* sp = std::get_if<std::string>(&in);
  if (!sp) return make_error(std::string("money needs text or a number, got ") + type_name(in));
  std::string_view s = text::trim(*sp);
  // Currency marks: đ, ₫, VND, VNĐ, đồng (any case for the Latin ones).
  for (std::string_view suffix : {"đồng", "VNĐ", "VND", "vnđ", "vnd", "đ", "₫", "Đ"}) {
    if (s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix) {
      s = text::trim(s.substr(0, s.size() - suffix.size()));
      break;
    }
  }
  std::string digits;
  std::string_view rest = s;
  if (rest.empty()) return make_error("is not an amount of money");
  // A zero fraction (",00", ".0") after the last separator is dropped when that separator is not
  // also the thousands separator: "25000.00", "25.000,00".
  if (const auto last = rest.find_last_of(".,"); last != std::string_view::npos) {
    const std::string_view frac = rest.substr(last + 1);
    const bool zeros = !frac.empty() && frac.size() <= 2 && frac.find_first_not_of('0') == std::string_view::npos;
    if (zeros && rest.substr(0, last).find(rest[last]) == std::string_view::npos) rest = rest.substr(0, last);
  }
  // Groups of three after a separator are thousands: "1.500.000", "1,500,000", "1 500 000".
  char sep = 0;
  std::size_t group = 0;
  bool first_group = true;
  for (char c : rest) {
    if (is_digit(c)) {
      digits.push_back(c);
      ++group;
      continue;
    }
    if (c != '.' && c != ',' && c != ' ') return make_error("is not an amount of money");
    if (sep != 0 && c != sep) return make_error("is not a whole number of đồng");
    if ((first_group && (group == 0 || group > 3)) || (!first_group && group != 3))
      return make_error("is not a whole number of đồng");
    sep = c;
    first_group = false;
    group = 0;
  }
  if (digits.empty() || (!first_group && group != 3)) return make_error("is not a whole number of đồng");
  if (digits.size() > 15) return make_error("is too large an amount");
  return Value(*parse_int(digits));
}

R integer(const Value& in) {
  if (auto i = integral(in)) return Value(*i);
  if (const auto* s = std::get_if<std::string>(&in)) {
    if (auto i = parse_int(text::trim(*s))) return Value(*i);
  }
  return make_error("is not a whole number");
}

R boolean(const Value& in) {
  if (const auto* b = std::get_if<bool>(&in)) return Value(*b);
  if (auto s = as_text(in)) {
    const std::string l = text::to_lower(text::trim(*s));
    if (l == "true" || l == "1") return Value(true);
    if (l == "false" || l == "0") return Value(false);
  }
  return make_error("is not true or false");
}

}  // namespace

// ---------------------------------------------------------------- dates

std::optional<DatePattern> DatePattern::compile(std::string_view pattern, std::string& error) {
  DatePattern p;
  p.text_ = std::string(pattern);
  if (pattern == "iso") {
    p.iso_ = true;
    return p;
  }
  bool seen[128] = {};
  for (std::size_t i = 0; i < pattern.size();) {
    const char c = pattern[i];
    std::size_t n = 1;
    while (i + n < pattern.size() && pattern[i + n] == c) ++n;
    if (c == 'y' || c == 'M' || c == 'd' || c == 'H' || c == 'm' || c == 's' || c == 'S') {
      Token t{c, 0, 0, 0};
      if (c == 'y') {
        if (n != 4) return error = "year must be written yyyy", std::nullopt;
        t.min = t.max = 4;
      } else if (c == 'S') {
        if (n != 3) return error = "milliseconds must be written SSS", std::nullopt;
        t.min = t.max = 3;
      } else if (n == 1) {
        t.min = 1;
        t.max = 2;
      } else if (n == 2) {
        t.min = t.max = 2;
      } else {
        return error = std::string("'") + std::string(n, c) + "' is not a date field", std::nullopt;
      }
      if (seen[static_cast<unsigned char>(c)])
        return error = std::string("field '") + c + "' appears twice", std::nullopt;
      seen[static_cast<unsigned char>(c)] = true;
      p.tokens_.push_back(t);
      i += n;
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      if (c == 'T') {  // the ISO date/time separator is a literal
        p.tokens_.push_back({0, 0, 0, c});
        ++i;
        continue;
      }
      return error = std::string("'") + c + "' is not a date field (use dd, MM, yyyy, HH, mm, ss, SSS)", std::nullopt;
    } else {
      for (std::size_t k = 0; k < n; ++k) p.tokens_.push_back({0, 0, 0, c});
      i += n;
    }
  }
  if (!seen[static_cast<unsigned char>('y')] || !seen[static_cast<unsigned char>('M')] ||
      !seen[static_cast<unsigned char>('d')])
    return error = "a date pattern needs yyyy, MM and dd", std::nullopt;
  return p;
}

std::optional<Timestamp> DatePattern::parse(std::string_view s, bool* shape_ok) const {
  if (shape_ok) *shape_ok = false;
  s = text::trim(s);
  if (iso_) {
    // YYYY-MM-DD, optionally [T ]HH:MM[:SS[.fff]], optionally Z or +hh:mm / +hhmm.
    if (auto t = Timestamp::parse_rfc3339(s)) {
      t->offset_minutes = kVietnamOffsetMinutes;
      return t;
    }
    int f[6] = {0, 0, 0, 0, 0, 0};
    std::size_t pos = 0;
    auto num = [&](int& out, std::size_t n) {
      if (pos + n > s.size()) return false;
      int v = 0;
      for (std::size_t k = 0; k < n; ++k) {
        if (!is_digit(s[pos + k])) return false;
        v = v * 10 + (s[pos + k] - '0');
      }
      out = v;
      pos += n;
      return true;
    };
    if (!num(f[0], 4) || pos >= s.size() || s[pos++] != '-' || !num(f[1], 2) || pos >= s.size() || s[pos++] != '-' ||
        !num(f[2], 2))
      return std::nullopt;
    std::int32_t nanos = 0;
    int offset = kVietnamOffsetMinutes;
    bool has_offset = false;
    if (pos < s.size()) {
      if (s[pos] != 'T' && s[pos] != ' ') return std::nullopt;
      ++pos;
      if (!num(f[3], 2) || pos >= s.size() || s[pos++] != ':' || !num(f[4], 2)) return std::nullopt;
      if (pos < s.size() && s[pos] == ':') {
        ++pos;
        if (!num(f[5], 2)) return std::nullopt;
        if (pos < s.size() && s[pos] == '.') {
          ++pos;
          std::int32_t scale = 100'000'000;
          std::size_t n = 0;
          for (; pos < s.size() && is_digit(s[pos]); ++pos, ++n) {
            if (n < 9) {
              nanos += (s[pos] - '0') * scale;
              scale /= 10;
            }
          }
          if (n == 0) return std::nullopt;
        }
      }
      if (pos < s.size()) {
        has_offset = true;
        if (s[pos] == 'Z') {
          offset = 0;
          ++pos;
        } else if (s[pos] == '+' || s[pos] == '-') {
          const int sign = s[pos] == '-' ? -1 : 1;
          ++pos;
          int oh, om;
          if (!num(oh, 2)) return std::nullopt;
          if (pos < s.size() && s[pos] == ':') ++pos;
          if (!num(om, 2) || oh > 23 || om > 59) return std::nullopt;
          offset = sign * (oh * 60 + om);
        } else {
          return std::nullopt;
        }
      }
    }
    if (pos != s.size()) return std::nullopt;
    if (shape_ok) *shape_ok = true;
    auto t = Timestamp::from_civil(f[0], f[1], f[2], f[3], f[4], f[5], nanos, offset);
    if (t && has_offset) t->offset_minutes = kVietnamOffsetMinutes;
    return t;
  }
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0, ms = 0;
  std::size_t pos = 0;
  for (const Token& t : tokens_) {
    if (t.field == 0) {
      if (pos >= s.size() || s[pos] != t.literal) return std::nullopt;
      ++pos;
      continue;
    }
    int v = 0;
    std::size_t n = 0;
    while (n < t.max && pos < s.size() && is_digit(s[pos])) {
      v = v * 10 + (s[pos] - '0');
      ++pos;
      ++n;
    }
    if (n < t.min) return std::nullopt;
    switch (t.field) {
      case 'y':
        y = v;
        break;
      case 'M':
        mo = v;
        break;
      case 'd':
        d = v;
        break;
      case 'H':
        h = v;
        break;
      case 'm':
        mi = v;
        break;
      case 's':
        se = v;
        break;
      default:
        ms = v;
        break;
    }
  }
  if (pos != s.size()) return std::nullopt;
  if (shape_ok) *shape_ok = true;
  return Timestamp::from_civil(y, mo, d, h, mi, se, ms * 1'000'000, kVietnamOffsetMinutes);
}

std::string DatePattern::format(const Timestamp& t0) const {
  Timestamp t = t0;
  t.offset_minutes = kVietnamOffsetMinutes;
  if (iso_) return t.to_rfc3339();
  using namespace std::chrono;
  const sys_seconds local = t.utc + minutes{t.offset_minutes};
  const sys_days day = floor<days>(local);
  const year_month_day ymd{day};
  const hh_mm_ss<seconds> tod{local - day};
  std::string out;
  std::array<char, 8> buf{};
  for (const Token& tok : tokens_) {
    if (tok.field == 0) {
      out.push_back(tok.literal);
      continue;
    }
    int v = 0;
    switch (tok.field) {
      case 'y':
        v = static_cast<int>(ymd.year());
        break;
      case 'M':
        v = static_cast<int>(static_cast<unsigned>(ymd.month()));
        break;
      case 'd':
        v = static_cast<int>(static_cast<unsigned>(ymd.day()));
        break;
      case 'H':
        v = static_cast<int>(tod.hours().count());
        break;
      case 'm':
        v = static_cast<int>(tod.minutes().count());
        break;
      case 's':
        v = static_cast<int>(tod.seconds().count());
        break;
      default:
        v = t.nanos / 1'000'000;
        break;
    }
    const int n =
        std::snprintf(buf.data(), buf.size(), "%0*d", static_cast<int>(tok.max == 2 && tok.min == 1 ? 1 : tok.max), v);
    out.append(buf.data(), static_cast<std::size_t>(n));
  }
  return out;
}

// ---------------------------------------------------------------- transforms

std::optional<Transform::Op> simple_transform(std::string_view name) noexcept {
  using Op = Transform::Op;
  static constexpr std::pair<std::string_view, Op> kNames[] = {
      {"trim", Op::trim},           {"collapse_spaces", Op::collapse_spaces},
      {"upper", Op::upper},         {"lower", Op::lower},
      {"title", Op::title},         {"nfc", Op::nfc},
      {"digits", Op::digits},       {"phone", Op::phone},
      {"id_number", Op::id_number}, {"money", Op::money},
      {"integer", Op::integer},     {"boolean", Op::boolean},
  };
  for (const auto& [n, op] : kNames)
    if (n == name) return op;
  return std::nullopt;
}

std::string_view transform_names() noexcept {
  return "trim, collapse_spaces, upper, lower, title, nfc, digits, phone, id_number, money, integer, boolean, "
         "{date: PATTERN}, {table: NAME}, {pad_left: N}";
}

Outcome<Value> Transform::apply(Value in) const {
  switch (op) {
    case Op::trim:
      return text_op(in, "trim", [](std::string_view s) { return std::string(text::trim(s)); });
    case Op::collapse_spaces:
      return text_op(in, "collapse_spaces", text::collapse_spaces);
    case Op::upper:
      return text_op(in, "upper", text::to_upper);
    case Op::lower:
      return text_op(in, "lower", text::to_lower);
    case Op::title:
      return text_op(in, "title", text::to_title);
    case Op::nfc:
      return text_op(in, "nfc", text::to_nfc);
    case Op::digits:
      return text_op(in, "digits", keep_digits);
    case Op::phone:
      return phone(in);
    case Op::id_number:
      return id_number(in);
    case Op::money:
      return money(in);
    case Op::integer:
      return integer(in);
    case Op::boolean:
      return boolean(in);
    case Op::date: {
      if (std::holds_alternative<Timestamp>(in)) return in;
      const auto* s = std::get_if<std::string>(&in);
      if (!s) return make_error(std::string("date needs text, got ") + type_name(in));
      bool real_shape = false;
      for (const auto& p : patterns) {
        bool shape = false;
        if (auto t = p.parse(*s, &shape)) return Value(*t);
        real_shape = real_shape || shape;
      }
      if (real_shape) return make_error("is not a real date or time (the day, month or hour is out of range)");
      std::string pats;
      for (const auto& p : patterns) pats += (pats.empty() ? "" : " or ") + (p.text() == "iso" ? "ISO 8601" : p.text());
      return make_error("is not a valid date in the form " + pats);
    }
    case Op::table: {
      auto key = as_text(in);
      if (key) {
        if (auto it = table->entries.find(text::trim(*key)); it != table->entries.end()) return it->second;
      }
      if (otherwise) return *otherwise;
      return make_error("has no entry in the code table '" + table->name + "'");
    }
    case Op::pad_left: {
      auto s = as_text(in);
      if (!s) return make_error(std::string("pad_left needs text, got ") + type_name(in));
      std::string t(text::trim(*s));
      if (t.size() < width) t.insert(0, width - t.size(), '0');
      return Value(std::move(t));
    }
  }
  return in;
}

}  // namespace dh::mapping
