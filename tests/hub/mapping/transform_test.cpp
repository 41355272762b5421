// The transform library (hub/mapping/transform.hpp) called directly: every transform of
// docs/mappings.md, the messy Vietnamese forms it accepts, and refusals whose reasons never quote
// the value.
#include "hub/mapping/transform.hpp"

#include "tests/support/print.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace dh;
using namespace dh::mapping;
using Op = Transform::Op;

namespace {

Transform make(Op op) {
  Transform t;
  t.op = op;
  return t;
}

Value txt(std::string_view s) {
  return Value(std::string(s));
}

// The text a transform gives; fails the test when it refuses.
std::string text_of(const Transform& t, const Value& in) {
  auto r = t.apply(in);
  if (!r) FAIL("refused: " << r.error().message);
  REQUIRE(std::holds_alternative<std::string>(*r));
  return std::get<std::string>(*r);
}
std::string text_of(Op op, std::string_view in) {
  return text_of(make(op), txt(in));
}

std::int64_t integer_of(const Transform& t, const Value& in) {
  auto r = t.apply(in);
  if (!r) FAIL("refused: " << r.error().message);
  REQUIRE(std::holds_alternative<std::int64_t>(*r));
  return std::get<std::int64_t>(*r);
}

// The reason a transform gives for refusing; fails the test when it accepts. The reason must not
// quote the value.
std::string refusal(const Transform& t, const Value& in) {
  auto r = t.apply(in);
  if (r) FAIL("accepted, expected a refusal; got " << as_text(*r).value_or("(no text)"));
  const std::string reason = r.error().message;
  if (const auto* s = std::get_if<std::string>(&in); s && s->size() >= 3) {
    INFO("reason: " << reason);
    CHECK(reason.find(*s) == std::string::npos);
  }
  return reason;
}
std::string refusal(Op op, std::string_view in) {
  return refusal(make(op), txt(in));
}

Transform date(std::vector<std::string> patterns) {
  Transform t = make(Op::date);
  for (const auto& p : patterns) {
    std::string err;
    auto dp = DatePattern::compile(p, err);
    if (!dp) FAIL("pattern " << p << " does not compile: " << err);
    t.patterns.push_back(std::move(*dp));
  }
  return t;
}

// The RFC 3339 text of a date transform's result.
std::string when(const Transform& t, std::string_view in) {
  auto r = t.apply(txt(in));
  if (!r) FAIL("refused: " << r.error().message);
  REQUIRE(std::holds_alternative<Timestamp>(*r));
  return std::get<Timestamp>(*r).to_rfc3339();
}

}  // namespace

// ---------------------------------------------------------------- phone

TEST_CASE("phone: the messy Vietnamese forms of a mobile become E.164", "[transform][phone]") {
  for (const char* in : {"0903123456", "0903 123 456", "0903.123.456", "0903-123-456", "(0903) 123 456", "84903123456",
                         "+84903123456", "+84 903 123 456", "+84-903-123-456", "0084903123456", "0084 903 123 456",
                         "  0903 123 456 \xC2\xA0", "+84 (903) 123.456"}) {
    INFO(in);
    CHECK(text_of(Op::phone, in) == "+84903123456");
  }
}

TEST_CASE("phone: landlines have 10 significant digits", "[transform][phone]") {
  CHECK(text_of(Op::phone, "028 3829 1234") == "+842838291234");
  CHECK(text_of(Op::phone, "(028) 3829.1234") == "+842838291234");
  CHECK(text_of(Op::phone, "+84 28 3829 1234") == "+842838291234");
  CHECK(text_of(Op::phone, "842838291234") == "+842838291234");
  CHECK(text_of(Op::phone, "024 3825 3536") == "+842438253536");  // Hà Nội
}

TEST_CASE("phone: numbers that are not Vietnamese phones are refused", "[transform][phone]") {
  const std::string why = "is not a Vietnamese phone number";
  SECTION("another country code") {
    CHECK(refusal(Op::phone, "+1 202 555 0100") == why);
    CHECK(refusal(Op::phone, "+85 903 123 456") == why);
    CHECK(refusal(Op::phone, "+4 8903 123 456") == why);
  }
  SECTION("too short") {
    CHECK(refusal(Op::phone, "0903 123 45") == why);
    CHECK(refusal(Op::phone, "+84 903 123 45") == why);
    CHECK(refusal(Op::phone, "113") == why);
    CHECK(refusal(Op::phone, "1900 1234") == why);
  }
  SECTION("too long") {
    CHECK(refusal(Op::phone, "028 3829 12345") == why);
    CHECK(refusal(Op::phone, "+84 28 3829 12345") == why);
    CHECK(refusal(Op::phone, "0084 28 3829 12345") == why);
  }
  SECTION("letters and other marks") {
    CHECK(refusal(Op::phone, "0903 ABC 456") == why);
    CHECK(refusal(Op::phone, "0903123456 ext 12") == why);
    CHECK(refusal(Op::phone, "0903/123/456") == why);
    CHECK(refusal(Op::phone, "+84+903123456") == why);
    CHECK(refusal(Op::phone,
                  "0903\xEF\xBC\x91"
                  "23456") == why);  // a full-width digit
  }
  SECTION("a trunk 0 after the country code") {
    CHECK(refusal(Op::phone, "+84 0903 123 456") == why);
  }
  SECTION("nothing") {
    CHECK(refusal(Op::phone, "") == why);
    CHECK(refusal(Op::phone, "+") == why);
  }
  SECTION("a boolean, which is the text \"true\"") {
    CHECK(refusal(make(Op::phone), Value(true)) == why);
  }
}

TEST_CASE("phone: a mobile number is accepted as a JSON integer", "[transform][phone]") {
  CHECK(text_of(make(Op::phone), Value(std::int64_t{84903123456})) == "+84903123456");
}

TEST_CASE("phone: an 11-digit mobile (one digit too many) is refused", "[transform][phone][regression]") {
  // 10 significant digits are only right for landlines (area code 2x); "0903 123 4567" is a mobile
  // typed with one digit too many, and comes out as "+849031234567", which the dossier's E.164
  // check also accepts.
  const Transform t = make(Op::phone);
  CHECK_FALSE(t.apply(txt("0903 123 4567")).has_value());
  CHECK_FALSE(t.apply(txt("+84 912 345 6789")).has_value());
}

// ---------------------------------------------------------------- id_number

TEST_CASE("id_number: a 12-digit CCCD with a province prefix 001-096, or a 9-digit CMND", "[transform][id]") {
  // Every one of the 63 pre-2025 province codes is a valid prefix, whatever the century/sex digit.
  for (const char* code :
       {"001", "002", "004", "006", "008", "010", "011", "012", "014", "015", "017", "019", "020", "022", "024", "025",
        "026", "027", "030", "031", "033", "034", "035", "036", "037", "038", "040", "042", "044", "045", "046", "048",
        "049", "051", "052", "054", "056", "058", "060", "062", "064", "066", "067", "068", "070", "072", "074", "075",
        "077", "079", "080", "082", "083", "084", "086", "087", "089", "091", "092", "093", "094", "095", "096"})
    for (char century : {'0', '3', '9'}) {
      const std::string n = std::string(code) + century + "01004512";
      CHECK(text_of(Op::id_number, n) == n);
    }
  CHECK(text_of(Op::id_number, "079301004512") == "079301004512");
  CHECK(text_of(Op::id_number, "079 301 004 512") == "079301004512");
  CHECK(text_of(Op::id_number, "  001301004512  ") == "001301004512");  // Hà Nội
  CHECK(text_of(Op::id_number, "096301004512") == "096301004512");      // Cà Mau
  CHECK(text_of(Op::id_number, "024 301 004") == "024301004");          // CMND
  CHECK(text_of(Op::id_number, "123456789") == "123456789");
  CHECK(text_of(make(Op::id_number), Value(std::int64_t{123456789})) == "123456789");
}

TEST_CASE("id_number: wrong shapes are refused", "[transform][id]") {
  const std::string shape = "must be a 12-digit CCCD or 9-digit CMND number";
  CHECK(refusal(Op::id_number, "07930100451") == shape);      // 11 digits
  CHECK(refusal(Op::id_number, "0793010045123") == shape);    // 13 digits
  CHECK(refusal(Op::id_number, "12345678") == shape);         // 8 digits
  CHECK(refusal(Op::id_number, "1234567890") == shape);       // 10 digits
  CHECK(refusal(Op::id_number, "079-301-004-512") == shape);  // dashes are not spaces
  CHECK(refusal(Op::id_number, "079301004S12") == shape);
  CHECK(refusal(Op::id_number, "") == shape);
  const std::string province = "is not a CCCD number: its first three digits are not a province code";
  CHECK(refusal(Op::id_number, "000301004512") == province);
  CHECK(refusal(Op::id_number, "097301004512") == province);
  CHECK(refusal(Op::id_number, "999301004512") == province);
  // Inside 001-096 but no province's code: the gaps between the 63 pre-2025 GSO codes.
  for (const char* gap : {"003", "005", "007", "009", "013", "016", "018", "021", "023", "028", "029",
                          "032", "039", "041", "043", "047", "050", "053", "055", "057", "059", "061",
                          "063", "065", "069", "071", "073", "076", "078", "081", "085", "088", "090"})
    CHECK(refusal(Op::id_number, std::string(gap) + "301004512") == province);
  CHECK(refusal(make(Op::id_number), Value(1.5)) == "id_number needs text, got a number");
}

// ---------------------------------------------------------------- money

TEST_CASE("money: whole đồng in the forms agencies send", "[transform][money]") {
  const Transform t = make(Op::money);
  for (const char* in :
       {"25000", "25.000", "25,000", "25 000", "25000 VND", "25000VND", "25.000 vnđ", "25000đ", "25.000 đ", "25 000 đ",
        "25000 ₫", "25000 đồng", "25000.00", "25000,0", "25.000,00", "25,000.00", " 25.000 "}) {
    INFO(in);
    CHECK(integer_of(t, txt(in)) == 25'000);
  }
  CHECK(integer_of(t, txt("1.500.000 đ")) == 1'500'000);
  CHECK(integer_of(t, txt("1,500,000")) == 1'500'000);
  CHECK(integer_of(t, txt("0")) == 0);
  CHECK(integer_of(t, txt("999999999999999")) == 999'999'999'999'999);
  CHECK(integer_of(t, Value(std::int64_t{25'000})) == 25'000);
  CHECK(integer_of(t, Value(25000.0)) == 25'000);
}

TEST_CASE("money: fractions, mixed separators, negatives and words are refused", "[transform][money]") {
  const Transform t = make(Op::money);
  const std::string whole = "is not a whole number of đồng";
  CHECK(refusal(t, txt("25000.5")) == whole);
  CHECK(refusal(t, txt("1.50")) == whole);
  CHECK(refusal(t, txt("1,5")) == whole);
  CHECK(refusal(t, txt("25.000.00")) == whole);
  CHECK(refusal(t, txt("1.000,50")) == whole);
  CHECK(refusal(t, txt("1.500,000")) == whole);  // two different thousands separators
  CHECK(refusal(t, txt("12,34,567")) == whole);  // lakh grouping
  CHECK(refusal(t, txt(".500")) == whole);
  CHECK(refusal(t, txt("25000.")) == whole);
  CHECK(refusal(t, Value(25000.5)) == whole);
  const std::string money = "is not an amount of money";
  CHECK(refusal(t, txt("abc")) == money);
  CHECK(refusal(t, txt("-25000")) == money);
  CHECK(refusal(t, txt("USD 25000")) == money);
  CHECK(refusal(t, txt("25000 USD")) == whole);  // the space reads as a thousands separator first
  CHECK(refusal(t, txt("đ")) == money);
  CHECK(refusal(t, txt("   ")) == money);
  CHECK(refusal(t, Value(std::int64_t{-1})) == "must not be negative");
  CHECK(refusal(t, Value(-25000.0)) == "must not be negative");
  CHECK(refusal(t, txt("9999999999999999")) == "is too large an amount");
  CHECK(refusal(t, Value(true)) == "money needs text or a number, got a boolean");
}

// ---------------------------------------------------------------- integer, boolean

TEST_CASE("integer: plain decimal integers from text or numbers", "[transform][integer]") {
  const Transform t = make(Op::integer);
  CHECK(integer_of(t, txt("12")) == 12);
  CHECK(integer_of(t, txt(" 12 ")) == 12);
  CHECK(integer_of(t, txt("+12")) == 12);
  CHECK(integer_of(t, txt("-12")) == -12);
  CHECK(integer_of(t, txt("007")) == 7);
  CHECK(integer_of(t, txt("9223372036854775807")) == INT64_MAX);
  CHECK(integer_of(t, Value(std::int64_t{42})) == 42);
  CHECK(integer_of(t, Value(42.0)) == 42);
  for (const char* bad : {"1.5", "12abc", "1 2", "", "-", "+", "0x1A", "1e3", "9223372036854775808"}) {
    INFO(bad);
    CHECK(refusal(t, txt(bad)) == "is not a whole number");
  }
  CHECK(refusal(t, Value(1.5)) == "is not a whole number");
  CHECK(refusal(t, Value(true)) == "is not a whole number");
}

TEST_CASE("boolean: true/false/1/0 in any case", "[transform][boolean]") {
  const Transform t = make(Op::boolean);
  auto b = [&](const Value& v) {
    auto r = t.apply(v);
    REQUIRE(r.has_value());
    REQUIRE(std::holds_alternative<bool>(*r));
    return std::get<bool>(*r);
  };
  CHECK(b(txt("true")));
  CHECK(b(txt(" TRUE ")));
  CHECK(b(txt("1")));
  CHECK_FALSE(b(txt("false")));
  CHECK_FALSE(b(txt("False")));
  CHECK_FALSE(b(txt("0")));
  CHECK(b(Value(true)));
  CHECK(b(Value(std::int64_t{1})));
  CHECK_FALSE(b(Value(std::int64_t{0})));
  for (const char* bad : {"yes", "có", "2", "", "t"}) {
    INFO(bad);
    CHECK(refusal(t, txt(bad)) == "is not true or false");
  }
}

// ---------------------------------------------------------------- table, pad_left

TEST_CASE("table: codes are looked up as trimmed text, with or without otherwise", "[transform][table]") {
  Table yes_no{"yes_no", {{"1", Value(true)}, {"0", Value(false)}, {"C", Value(true)}, {"01", txt("zero-one")}}};
  Table payer{"payer", {{"NGUOI_NHAN", txt("recipient")}, {"CO_QUAN", txt("agency")}, {"7", Value(std::int64_t{7})}}};
  Transform t = make(Op::table);
  t.table = &yes_no;
  CHECK(std::get<bool>(*t.apply(txt("1"))));
  CHECK_FALSE(std::get<bool>(*t.apply(txt(" 0 "))));
  CHECK(std::get<bool>(*t.apply(Value(std::int64_t{1}))));                   // a JSON number is looked up as its text
  CHECK(std::get<std::string>(*t.apply(txt("01"))) == "zero-one");           // "01" and "1" differ
  CHECK(refusal(t, txt("c")) == "has no entry in the code table 'yes_no'");  // case matters
  CHECK(refusal(t, txt("SECRET-CODE")) == "has no entry in the code table 'yes_no'");

  t.table = &payer;
  CHECK(std::get<std::string>(*t.apply(txt("CO_QUAN"))) == "agency");
  CHECK(std::get<std::int64_t>(*t.apply(txt("7"))) == 7);  // a table may give integers
  SECTION("otherwise") {
    t.otherwise = txt("recipient");
    CHECK(std::get<std::string>(*t.apply(txt("KHAC"))) == "recipient");
    CHECK(std::get<std::string>(*t.apply(txt("CO_QUAN"))) == "agency");
  }
}

TEST_CASE("pad_left: GSO codes sent as numbers get their leading zeros", "[transform][pad_left]") {
  Transform t = make(Op::pad_left);
  t.width = 2;
  CHECK(text_of(t, txt("1")) == "01");
  CHECK(text_of(t, txt("79")) == "79");
  CHECK(text_of(t, txt(" 7 ")) == "07");
  CHECK(text_of(t, Value(std::int64_t{1})) == "01");
  t.width = 5;
  CHECK(text_of(t, txt("760")) == "00760");
  CHECK(text_of(t, txt("26740")) == "26740");
  CHECK(text_of(t, txt("1234567")) == "1234567");  // longer stays
  t.width = 3;
  CHECK(text_of(t, txt("760")) == "760");
  CHECK(refusal(t, Value(1.5)) == "pad_left needs text, got a number");
}

// ---------------------------------------------------------------- text transforms

TEST_CASE("text transforms on Vietnamese text", "[transform][text]") {
  SECTION("trim strips spaces, tabs, newlines and no-break spaces at both ends only") {
    CHECK(text_of(Op::trim,
                  " \t\n\xC2\xA0"
                  "Bến  Nghé\xC2\xA0 \r\n") == "Bến  Nghé");
  }
  SECTION("collapse_spaces") {
    CHECK(text_of(Op::collapse_spaces, "  Nguyễn \t\n  Văn\xC2\xA0\xC2\xA0 An  ") == "Nguyễn Văn An");
    CHECK(text_of(Op::collapse_spaces, "   ").empty());
  }
  SECTION("upper with Vietnamese letters") {
    CHECK(text_of(Op::upper, "đường lê lợi, phường bến nghé") == "ĐƯỜNG LÊ LỢI, PHƯỜNG BẾN NGHÉ");
  }
  SECTION("lower") {
    CHECK(text_of(Op::lower, "ĐẶNG THỊ ÁNH TUYẾT") == "đặng thị ánh tuyết");
  }
  SECTION("title") {
    CHECK(text_of(Op::title, "NGUYỄN VĂN AN") == "Nguyễn Văn An");
    CHECK(text_of(Op::title, "đặng thị ánh") == "Đặng Thị Ánh");
    CHECK(text_of(Op::title, "ĐỖ ĐỨC ƯỚC") == "Đỗ Đức Ước");
  }
  SECTION("nfc composes decomposed text") {
    const std::string nfd = "Nguye\xCC\x82\xCC\x83n Va\xCC\x86n";
    CHECK(text_of(Op::nfc, nfd) == "Nguyễn Văn");
    CHECK(text_of(Op::nfc, "Nguyễn") == "Nguyễn");
  }
  SECTION("nfc then title on decomposed capitals") {
    const std::string nfd = "NGUYE\xCC\x82\xCC\x83N";
    CHECK(text_of(make(Op::title), Value(text_of(Op::nfc, nfd))) == "Nguyễn");
  }
  SECTION("digits keeps ASCII digits only") {
    CHECK(text_of(Op::digits, "079 301 004 512") == "079301004512");
    CHECK(text_of(Op::digits, "CCCD: 079-301.004/512 (mới)") == "079301004512");
    CHECK(text_of(Op::digits,
                  "\xEF\xBC\x91\xEF\xBC\x92"
                  "3") == "3");  // full-width digits are not ASCII
    CHECK(text_of(Op::digits, "không có").empty());
  }
  SECTION("numbers are text for the text transforms") {
    CHECK(text_of(make(Op::trim), Value(std::int64_t{79})) == "79");
    CHECK(refusal(make(Op::upper), Value(1.5)) == "upper needs text, got a number");
  }
}

TEST_CASE("simple_transform knows exactly the documented names", "[transform]") {
  for (const char* n : {"trim", "collapse_spaces", "upper", "lower", "title", "nfc", "digits", "phone", "id_number",
                        "money", "integer", "boolean"}) {
    INFO(n);
    CHECK(simple_transform(n).has_value());
  }
  for (const char* n : {"date", "table", "pad_left", "Trim", "strip", ""}) {
    INFO(n);
    CHECK_FALSE(simple_transform(n).has_value());
  }
  CHECK(simple_transform("money") == Op::money);
}

// ---------------------------------------------------------------- dates

TEST_CASE("date patterns: dd/MM/yyyy, d/M/yyyy, times, milliseconds", "[transform][date]") {
  CHECK(when(date({"dd/MM/yyyy"}), "15/01/2025") == "2025-01-15T00:00:00+07:00");
  CHECK(when(date({"dd/MM/yyyy"}), " 15/01/2025 ") == "2025-01-15T00:00:00+07:00");
  CHECK(when(date({"d/M/yyyy"}), "5/1/2025") == "2025-01-05T00:00:00+07:00");
  CHECK(when(date({"d/M/yyyy"}), "15/12/2025") == "2025-12-15T00:00:00+07:00");
  CHECK(when(date({"dd/MM/yyyy HH:mm:ss"}), "15/01/2025 08:30:05") == "2025-01-15T08:30:05+07:00");
  CHECK(when(date({"dd/MM/yyyy HH:mm"}), "15/01/2025 23:59") == "2025-01-15T23:59:00+07:00");
  CHECK(when(date({"d/M/yyyy H:mm"}), "5/1/2025 8:05") == "2025-01-05T08:05:00+07:00");
  CHECK(when(date({"dd/MM/yyyy HH:mm:ss.SSS"}), "15/01/2025 08:30:05.123") == "2025-01-15T08:30:05.123+07:00");
  CHECK(when(date({"yyyyMMddHHmmss"}), "20250115083005") == "2025-01-15T08:30:05+07:00");
  CHECK(when(date({"yyyy-MM-ddTHH:mm:ss"}), "2025-01-15T08:30:05") == "2025-01-15T08:30:05+07:00");
  CHECK(when(date({"dd/MM/yyyy"}), "29/02/2024") == "2024-02-29T00:00:00+07:00");  // a leap year
}

TEST_CASE("date patterns: text of another shape is refused, naming the pattern", "[transform][date]") {
  const Transform t = date({"dd/MM/yyyy"});
  for (const char* bad : {"5/1/2025", "15-01-2025", "15/01/25", "15/01/2025 08:30", "2025-01-15", "", "mai"}) {
    INFO(bad);
    CHECK(refusal(t, txt(bad)) == "is not a valid date in the form dd/MM/yyyy");
  }
  CHECK(refusal(t, Value(std::int64_t{20250115})) == "date needs text, got an integer");
}

TEST_CASE("date patterns: impossible dates and times are refused", "[transform][date]") {
  const Transform t = date({"dd/MM/yyyy HH:mm:ss"});
  for (const char* bad : {"31/02/2025 00:00:00", "29/02/2025 00:00:00", "31/04/2025 00:00:00", "00/01/2025 00:00:00",
                          "15/13/2025 00:00:00", "15/00/2025 00:00:00", "15/01/2025 24:00:00", "15/01/2025 23:60:00",
                          "15/01/2025 23:59:60", "15/01/0000 00:00:00"}) {
    INFO(bad);
    const std::string why = refusal(t, txt(bad));
    CHECK_THAT(why, Catch::Matchers::Contains("date"));
  }
  CHECK(refusal(date({"iso"}), txt("2025-13-01")).find("date") != std::string::npos);
  CHECK(refusal(date({"iso"}), txt("2025-02-29")).find("date") != std::string::npos);
  CHECK(refusal(date({"dd/MM/yyyy"}), txt("31/02/2025")).find("date") != std::string::npos);
}

TEST_CASE("date patterns: iso, with and without an offset, always written in +07:00", "[transform][date]") {
  const Transform t = date({"iso"});
  CHECK(when(t, "2025-01-15") == "2025-01-15T00:00:00+07:00");
  CHECK(when(t, "2025-01-15T08:30:00") == "2025-01-15T08:30:00+07:00");
  CHECK(when(t, "2025-01-15 08:30") == "2025-01-15T08:30:00+07:00");
  CHECK(when(t, "2025-01-15T08:30:00+07:00") == "2025-01-15T08:30:00+07:00");
  CHECK(when(t, "2025-01-15T08:30:00Z") == "2025-01-15T15:30:00+07:00");
  CHECK(when(t, "2025-01-15T01:30:00.250Z") == "2025-01-15T08:30:00.250+07:00");
  CHECK(when(t, "2025-01-15T20:00:00Z") == "2025-01-16T03:00:00+07:00");  // the next day in Việt Nam
  CHECK(when(t, "2025-01-15T08:30:00+00:00") == "2025-01-15T15:30:00+07:00");
  CHECK(when(t, "2025-01-15T08:30:00-05:00") == "2025-01-15T20:30:00+07:00");
  CHECK(when(t, "2025-01-15T08:30:00+0900") == "2025-01-15T06:30:00+07:00");
  CHECK(when(t, "2025-01-15T08:30:00.123") == "2025-01-15T08:30:00.123+07:00");
  for (const char* bad : {"20250115", "2025-1-15", "15/01/2025", "2025-01-15T8:30", "2025-01-15T08:30:00+7",
                          "2025-01-15T08:30:00 +07:00", "2025-01-15T08:30:00X", "2025-01-15T"}) {
    INFO(bad);
    CHECK_THAT(refusal(t, txt(bad)), Catch::Matchers::Contains("date"));
  }
  CHECK(refusal(t, txt("tomorrow")) == "is not a valid date in the form ISO 8601");
}

TEST_CASE("date patterns: with several patterns, the first that fits wins", "[transform][date]") {
  const Transform t = date({"dd/MM/yyyy HH:mm:ss", "dd/MM/yyyy", "iso"});
  CHECK(when(t, "15/01/2025 08:30:05") == "2025-01-15T08:30:05+07:00");
  CHECK(when(t, "15/01/2025") == "2025-01-15T00:00:00+07:00");
  CHECK(when(t, "2025-01-15T08:30:00Z") == "2025-01-15T15:30:00+07:00");
  CHECK(refusal(t, txt("15.01.2025")) ==
        "is not a valid date in the form dd/MM/yyyy HH:mm:ss or dd/MM/yyyy or ISO 8601");
  // Ambiguous text: the order of the patterns decides.
  const Transform dm = date({"d/M/yyyy", "M/d/yyyy"});
  CHECK(when(dm, "5/1/2025") == "2025-01-05T00:00:00+07:00");
  CHECK(when(dm, "1/13/2025") == "2025-01-13T00:00:00+07:00");  // the first does not fit: 13 is no month
  // A time is passed through untouched.
  const Timestamp ts = *Timestamp::from_civil(2025, 1, 15, 8, 30, 0, 0, 420);
  CHECK(std::get<Timestamp>(*t.apply(Value(ts))) == ts);
}

TEST_CASE("DatePattern::compile refuses what it does not understand", "[transform][date]") {
  auto error_for = [](std::string_view p) {
    std::string err;
    auto dp = DatePattern::compile(p, err);
    CHECK_FALSE(dp);
    return err;
  };
  CHECK(error_for("dd/MM/yy") == "year must be written yyyy");
  CHECK(error_for("dd/MM/yyyy HH:mm:ss.SS") == "milliseconds must be written SSS");
  CHECK(error_for("ddd/MM/yyyy") == "'ddd' is not a date field");
  CHECK(error_for("dd/MM/yyyy/dd") == "field 'd' appears twice");
  CHECK_THAT(error_for("dd/MMM/yyyy"), Catch::Matchers::Contains("'MMM' is not a date field"));
  CHECK_THAT(error_for("dd/MM/yyyy hh:mm"), Catch::Matchers::Contains("'h' is not a date field"));
  CHECK_THAT(error_for("EEE dd/MM/yyyy"), Catch::Matchers::Contains("'E' is not a date field"));
  CHECK(error_for("HH:mm") == "a date pattern needs yyyy, MM and dd");
  CHECK(error_for("") == "a date pattern needs yyyy, MM and dd");
  std::string err;
  CHECK(DatePattern::compile("iso", err).has_value());
  CHECK(DatePattern::compile("dd.MM.yyyy", err).has_value());
}

TEST_CASE("DatePattern::format writes +07:00 local time and round-trips through parse", "[transform][date]") {
  std::string err;
  const Timestamp utc = *Timestamp::from_civil(2025, 1, 14, 20, 5, 9, 7'000'000, 0);  // 03:05:09.007 on the 15th
  auto fmt = [&](std::string_view p) { return DatePattern::compile(p, err)->format(utc); };
  CHECK(fmt("dd/MM/yyyy") == "15/01/2025");
  CHECK(fmt("d/M/yyyy") == "15/1/2025");
  CHECK(fmt("dd/MM/yyyy HH:mm:ss") == "15/01/2025 03:05:09");
  CHECK(fmt("d/M/yyyy H:m:s") == "15/1/2025 3:5:9");
  CHECK(fmt("dd/MM/yyyy HH:mm:ss.SSS") == "15/01/2025 03:05:09.007");
  CHECK(fmt("yyyyMMddHHmmss") == "20250115030509");
  CHECK(fmt("iso") == "2025-01-15T03:05:09.007+07:00");

  for (const char* p : {"dd/MM/yyyy HH:mm:ss.SSS", "d/M/yyyy H:mm:ss.SSS", "yyyy-MM-ddTHH:mm:ss.SSS", "iso"}) {
    INFO(p);
    const auto dp = DatePattern::compile(p, err);
    REQUIRE(dp);
    const auto back = dp->parse(dp->format(utc));
    REQUIRE(back);
    CHECK(back->utc == utc.utc);
    CHECK(back->nanos == utc.nanos);
    CHECK(back->offset_minutes == kVietnamOffsetMinutes);
  }
  const auto day = DatePattern::compile("dd/MM/yyyy", err);
  CHECK(day->format(*day->parse("31/12/2024")) == "31/12/2024");
  CHECK(day->format(*day->parse("01/01/0001")) == "01/01/0001");
  CHECK(day->format(*day->parse("31/12/9999")) == "31/12/9999");
}

TEST_CASE("as_text gives the text form of every scalar", "[transform]") {
  CHECK(as_text(txt("x")) == "x");
  CHECK(as_text(Value(std::int64_t{-42})) == "-42");
  CHECK(as_text(Value(79.0)) == "79");
  CHECK_FALSE(as_text(Value(1.5)));
  CHECK_FALSE(as_text(Value(1e300)));
  CHECK(as_text(Value(true)) == "true");
  CHECK(as_text(Value(*Timestamp::from_civil(2025, 1, 15, 8, 30, 0, 0, 420))) == "2025-01-15T08:30:00+07:00");
  CHECK_FALSE(as_text(Value{}));
  CHECK(std::string(type_name(Value{})) == "nothing");
  CHECK(std::string(type_name(Value(1.5))) == "a number");
}
