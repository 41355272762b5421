// The `json` adapter kind through Mapping::translate: hostile input, JSON Pointer paths and JSON
// Schema. Every refusal is checked for its problem type, its path and its reason, and reasons are
// checked not to quote the message's values.
#include "tests/support/mapping_fixture.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace dh;
using namespace dh::testing;
using mapping::ParseLimits;

namespace {

const std::string kMapping = with_header(R"(format:
  kind: json
messages:
  - type: licence_result
    when: { path: /loaiThongDiep, equals: KQ }
    kind: result_delivery
    fields:
      source.message_id: { path: /maThongDiep, required: true }
      dossier_code: /data/maHoSo
      applicant.full_name: { path: /data/chuHoSo/hoTen, transform: [collapse_spaces, title] }
      applicant.phone: { path: /data/chuHoSo/soDienThoai, transform: [phone] }
      applicant.id_number: { path: /data/chuHoSo/soCCCD, transform: [id_number] }
      delivery_address.line: /data/diaChi/soNha
      delivery_address.province_code: { path: /data/diaChi/maTinh, transform: [{ pad_left: 2 }] }
      fees.cod_amount: { path: /data/lePhi, transform: [money], default: 0 }
      dates.ready_at: { path: /data/ngayTra, transform: [{ date: dd/MM/yyyy }] }
      note: /data/ghiChu
)");

const Mapping& json_mapping() {
  static const Mapping m = load_yaml(kMapping);
  return m;
}

// A valid message; fields are JSON texts (so "\"x\"" for a string, "25000" for a number).
struct Message {
  std::string message_id = R"("TD-2025-0001")";
  std::string code = R"("000.00.16.H29-250115-0007")";
  std::string name = R"("TRẦN   VĂN BÌNH")";
  std::string phone = R"("0912.345.678")";
  std::string cccd = R"("079 301 004 512")";
  std::string province = "79";
  std::string fee = R"("135.000")";
  std::string date = R"("15/01/2025")";
  std::string extra;  // appended inside `data`, starting with a comma

  [[nodiscard]] std::string json() const {
    return R"({"maThongDiep": )" + message_id + R"(, "loaiThongDiep": "KQ", "data": {"maHoSo": )" + code +
           R"(, "chuHoSo": {"hoTen": )" + name + R"(, "soDienThoai": )" + phone + R"(, "soCCCD": )" + cccd +
           R"(}, "diaChi": {"soNha": "12 Nguyễn Huệ", "maTinh": )" + province + R"(}, "lePhi": )" + fee +
           R"(, "ngayTra": )" + date + extra + "}}";
  }
};

std::string valid_json() {
  return Message{}.json();
}

}  // namespace

// ---------------------------------------------------------------- baseline

TEST_CASE("json: a well-formed message maps to a dossier", "[json]") {
  const Dossier d = dossier_of(json_mapping(), valid_json());
  CHECK(d.agency.id == "test-agency");
  CHECK(d.dossier_code == "000.00.16.H29-250115-0007");
  CHECK(d.applicant.full_name == "Trần Văn Bình");
  CHECK(d.applicant.phone == "+84912345678");
  CHECK(d.applicant.id_number == "079301004512");
  REQUIRE(d.delivery_address);
  CHECK(d.delivery_address->province_code == "79");  // a JSON number, as text
  CHECK(d.fees.cod_amount == 135'000);
  REQUIRE(d.dates.ready_at);
  CHECK(d.dates.ready_at->to_rfc3339() == "2025-01-15T00:00:00+07:00");
  CHECK(d.source.message_id == "TD-2025-0001");
  CHECK(d.source.format == SourceFormat::json);
  CHECK_FALSE(d.note);
  CHECK(validate(d).empty());
}

TEST_CASE("json: string escapes are decoded", "[json]") {
  Message m;
  m.name = R"("Nguy\u1ec5n V\u0103n \"An\"\t")";
  m.code = R"("HS\/1\\2")";
  const Dossier d = dossier_of(json_mapping(), m.json());
  CHECK(d.applicant.full_name == "Nguyễn Văn \"An\"");
  CHECK(d.dossier_code == "HS/1\\2");
}

// ---------------------------------------------------------------- hostile input

TEST_CASE("json: malformed JSON is refused with its byte offset, never quoting the text", "[json][hostile]") {
  std::string body;
  SECTION("unclosed object") {
    body = R"({"maThongDiep": "SECRET-1")";
  }
  SECTION("trailing comma") {
    body = R"({"maThongDiep": "SECRET-1",})";
  }
  SECTION("a comment") {
    body = R"({"maThongDiep": "SECRET-1" /* hi */})";
  }
  SECTION("single quotes") {
    body = R"({'maThongDiep': 'SECRET-1'})";
  }
  SECTION("trailing data") {
    body = R"({"maThongDiep": "SECRET-1"} {"x": 1})";
  }
  SECTION("NaN") {
    body = R"({"n": NaN, "s": "SECRET-1"})";
  }
  SECTION("an unescaped control character in a string") {
    body = "{\"s\": \"SECRET\x01-1\"}";
  }
  SECTION("a raw NUL after the document") {
    body = std::string(R"({"s": "SECRET-1"})") + '\0';
  }
  const Problem p = problem_of(json_mapping(), body);
  DH_CHECK_PROBLEM(p, ProblemType::malformed_message, "", "not well-formed JSON at byte ");
  CHECK_FALSE(any_reason_contains(p, "SECRET"));
}

TEST_CASE("json: a document nested 100,000 deep is refused quickly with the depth reason", "[json][hostile]") {
  std::string body;
  SECTION("arrays") {
    body = repeat("[", 100'000) + repeat("]", 100'000);
  }
  SECTION("objects") {
    body = repeat(R"({"a":)", 100'000) + "1" + repeat("}", 100'000);
  }
  SECTION("unclosed") {
    body = repeat("[{\"a\":", 50'000);
  }
  Problem p;
  const double s = seconds_for([&] { p = problem_of(json_mapping(), body); });
  DH_CHECK_PROBLEM(p, ProblemType::malformed_message, "", "the document nests deeper than 64 levels");
  CHECK(s < 5.0);
}

TEST_CASE("json: nesting of exactly max_depth is accepted, one more is refused", "[json][hostile]") {
  const Problem ok = problem_of(json_mapping(), repeat("[", 64) + repeat("]", 64));
  CHECK(ok.type == ProblemType::unknown_message_type);
  const Problem deep = problem_of(json_mapping(), repeat("[", 65) + repeat("]", 65));
  DH_CHECK_PROBLEM(deep, ProblemType::malformed_message, "", "deeper than 64 levels");

  ParseLimits shallow;
  shallow.max_depth = 3;  // the message is 3 deep: {data: {chuHoSo: {...}}}
  CHECK(json_mapping().translate(valid_json(), shallow).has_value());
  shallow.max_depth = 2;
  DH_CHECK_PROBLEM(problem_of(json_mapping(), valid_json(), shallow), ProblemType::malformed_message, "",
                   "deeper than 2 levels");
}

TEST_CASE("json: broken UTF-8 is refused", "[json][hostile]") {
  Message m;
  SECTION("overlong encoding of '/'") {
    m.name = "\"Nguy\xC0\xAF\"";
  }
  SECTION("truncated sequence") {
    m.name = "\"Nguy\xE1\xBB\"";
  }
  SECTION("lone continuation byte") {
    m.name = "\"Nguy\x80n\"";
  }
  SECTION("UTF-16 surrogate encoded in UTF-8") {
    m.name = "\"Nguy\xED\xA0\x80n\"";
  }
  SECTION("above U+10FFFF") {
    m.name = "\"Nguy\xF4\x90\x80\x80n\"";
  }
  SECTION("in a key") {
    m.extra = ", \"k\xFF\": 1";
  }
  SECTION("an escaped lone surrogate") {
    m.name = R"("Nguy\ud800n")";
  }
  SECTION("an escaped lone low surrogate") {
    m.name = R"("Nguy\udc00n")";
  }
  // Raw bytes are caught before parsing ("not valid UTF-8 at byte N"), escaped surrogates by the
  // parser ("not well-formed JSON at byte N"): both say where.
  const Problem p = problem_of(json_mapping(), m.json());
  DH_CHECK_PROBLEM(p, ProblemType::malformed_message, "", " at byte ");
}

TEST_CASE("json: a UTF-16 body is refused", "[json][hostile]") {
  std::string body;
  std::string reason = "UTF-16 is not supported";
  SECTION("little-endian BOM") {
    body = std::string("\xFF\xFE{\0}\0", 6);
  }
  SECTION("big-endian BOM") {
    body = std::string("\xFE\xFF\0{\0}", 6);
  }
  SECTION("no BOM") {
    body = std::string("{\0}\0", 4);
    reason = "not well-formed JSON at byte";
  }
  const Problem p = problem_of(json_mapping(), body);
  DH_CHECK_PROBLEM(p, ProblemType::malformed_message, "", reason);
}

TEST_CASE("json: a NUL character is refused, naming where it is", "[json][hostile]") {
  SECTION("escaped in a string value") {
    Message m;
    m.code = R"("HS-1\u0000SECRET")";
    const Problem p = problem_of(json_mapping(), m.json());
    DH_CHECK_PROBLEM(p, ProblemType::malformed_message, "/data/maHoSo", "the text contains a NUL character");
    CHECK_FALSE(any_reason_contains(p, "SECRET"));
  }
  SECTION("escaped in a string inside an array") {
    const Problem p = problem_of(json_mapping(), R"({"ds": ["a", "b\u0000"]})");
    DH_CHECK_PROBLEM(p, ProblemType::malformed_message, "/ds/1", "NUL character");
  }
  SECTION("escaped in a key") {
    const Problem p = problem_of(json_mapping(), R"({"x": {"a\u0000b": 1}})");
    CHECK(p.type == ProblemType::malformed_message);
    REQUIRE(p.errors.errors.size() == 1);
    CHECK(p.errors.errors[0].reason == "a key contains a NUL character");
    CHECK_THAT(p.errors.errors[0].path, Catch::Matchers::StartsWith("/x"));
  }
  SECTION("raw in a string") {
    Message m;
    m.code = std::string("\"HS-1\0\"", 7);
    DH_CHECK_PROBLEM(problem_of(json_mapping(), m.json()), ProblemType::malformed_message, "",
                     "not well-formed JSON at byte");
  }
}

TEST_CASE("json: numbers that do not fit are refused, naming where they are", "[json][hostile]") {
  Message m;
  SECTION("1e400") {
    m.fee = "1e400";
  }
  SECTION("-1e400") {
    m.fee = "-1e400";
  }
  SECTION("an integer of 30 digits") {
    m.fee = "123456789012345678901234567890";
  }
  SECTION("a negative integer of 20 digits") {
    m.fee = "-99999999999999999999";
  }
  SECTION("2^64 - 1: fits uint64, not int64") {
    m.fee = "18446744073709551615";
  }
  SECTION("2^63: one more than int64") {
    m.fee = "9223372036854775808";
  }
  const Problem p = problem_of(json_mapping(), m.json());
  DH_CHECK_PROBLEM(p, ProblemType::malformed_message, "/data/lePhi", "the number is out of range");
}

TEST_CASE("json: numbers at the edges of int64 are read exactly", "[json]") {
  Message m;
  SECTION("money from a JSON integer") {
    m.fee = "25000";
    CHECK(dossier_of(json_mapping(), m.json()).fees.cod_amount == 25'000);
  }
  SECTION("money from a JSON number with a zero fraction") {
    m.fee = "25000.0";
    CHECK(dossier_of(json_mapping(), m.json()).fees.cod_amount == 25'000);
  }
  SECTION("int64 max parses, then the dossier's own limit refuses it") {
    m.fee = "9223372036854775807";
    DH_CHECK_PROBLEM(problem_of(json_mapping(), m.json()), ProblemType::invalid_message, "/fees/cod_amount",
                     "between 0 and 10^12");
  }
  SECTION("int64 min parses, then money refuses a negative amount") {
    m.fee = "-9223372036854775808";
    DH_CHECK_PROBLEM(problem_of(json_mapping(), m.json()), ProblemType::invalid_message, "/fees/cod_amount",
                     "must not be negative");
  }
}

TEST_CASE("json: duplicate keys are refused, naming the duplicated key", "[json][hostile]") {
  SECTION("top level") {
    const std::string body = R"({"maThongDiep": "TD-1", "loaiThongDiep": "KQ", "maThongDiep": "TD-2"})";
    DH_CHECK_PROBLEM(problem_of(json_mapping(), body), ProblemType::malformed_message, "/maThongDiep",
                     "the key appears twice in one object");
  }
  SECTION("nested") {
    Message m;
    m.extra = R"(, "maHoSo": "OTHER")";
    DH_CHECK_PROBLEM(problem_of(json_mapping(), m.json()), ProblemType::malformed_message, "/data/maHoSo",
                     "the key appears twice in one object");
  }
  SECTION("in an object inside an array") {
    const std::string body = R"({"ds": [{"ten": "a"}, {"ten": "b", "so": 1, "ten": "c"}]})";
    DH_CHECK_PROBLEM(problem_of(json_mapping(), body), ProblemType::malformed_message, "/ds/1/ten", "appears twice");
  }
  SECTION("a key with '/' and '~' is escaped in the path") {
    const std::string body = R"({"a/b~c": 1, "a/b~c": 2})";
    DH_CHECK_PROBLEM(problem_of(json_mapping(), body), ProblemType::malformed_message, "/a~1b~0c", "appears twice");
  }
  SECTION("the same key spelled with an escape") {
    const std::string body = R"({"ma": 1, "m\u0061": 2})";
    DH_CHECK_PROBLEM(problem_of(json_mapping(), body), ProblemType::malformed_message, "/ma", "appears twice");
  }
}

TEST_CASE("json: the same key in different objects is not a duplicate", "[json]") {
  Message m;
  m.extra = R"(, "x": {"maHoSo": 1}, "y": [{"maHoSo": 2}, {"maHoSo": 3}])";
  CHECK(dossier_of(json_mapping(), m.json()).dossier_code == "000.00.16.H29-250115-0007");
}

TEST_CASE("json: required fields that are empty, blank or null are refused", "[json][hostile]") {
  Message m;
  SECTION("empty") {
    m.message_id = R"("")";
  }
  SECTION("blank") {
    m.message_id = R"(" \t\n\u00a0 ")";
  }
  SECTION("null") {
    m.message_id = "null";
  }
  const Problem p = problem_of(json_mapping(), m.json());
  DH_CHECK_PROBLEM(p, ProblemType::invalid_message, "/source/message_id", "is required");
  CHECK(p.message_type == "licence_result");
}

TEST_CASE("json: a field the dossier requires that is blank is refused", "[json][hostile]") {
  Message m;
  SECTION("dossier_code") {
    m.code = R"("   ")";
    DH_CHECK_PROBLEM(problem_of(json_mapping(), m.json()), ProblemType::invalid_message, "/dossier_code",
                     "must not be empty");
  }
  SECTION("applicant.full_name, blank after collapse_spaces") {
    m.name = R"("\u00a0 \u00a0")";
    DH_CHECK_PROBLEM(problem_of(json_mapping(), m.json()), ProblemType::invalid_message, "/applicant/full_name",
                     "must not be empty");
  }
}

TEST_CASE("json: impossible dates, phones and CCCD numbers are refused, all at once", "[json][hostile]") {
  Message m;
  std::string bad_date;
  SECTION("31 February") {
    bad_date = "31/02/2025";
  }
  SECTION("29 February 2025") {
    bad_date = "29/02/2025";
  }
  SECTION("month 13") {
    bad_date = "01/13/2025";
  }
  m.date = "\"" + bad_date + "\"";
  m.phone = R"("+1 202 555 0100")";
  m.cccd = R"("07930100451")";  // 11 digits
  const Problem p = problem_of(json_mapping(), m.json());
  DH_CHECK_PROBLEM(p, ProblemType::invalid_message, "/dates/ready_at", "date");
  DH_CHECK_PROBLEM(p, ProblemType::invalid_message, "/applicant/phone", "is not a Vietnamese phone number");
  DH_CHECK_PROBLEM(p, ProblemType::invalid_message, "/applicant/id_number", "12-digit CCCD or 9-digit CMND");
  CHECK(p.errors.errors.size() == 3);
  CHECK_FALSE(any_reason_contains(p, bad_date));
  CHECK_FALSE(any_reason_contains(p, "202"));
  CHECK_FALSE(any_reason_contains(p, "0793"));
}

TEST_CASE("json: a message larger than ParseLimits::max_bytes is refused before parsing", "[json][hostile]") {
  const std::string body = valid_json();
  ParseLimits limits;
  SECTION("one byte over") {
    limits.max_bytes = body.size() - 1;
    DH_CHECK_PROBLEM(problem_of(json_mapping(), body, limits), ProblemType::malformed_message, "",
                     "the message is larger than " + std::to_string(body.size() - 1) + " bytes");
  }
  SECTION("exactly the limit") {
    limits.max_bytes = body.size();
    CHECK(json_mapping().translate(body, limits).has_value());
  }
  SECTION("the default 4 MiB, with a huge string") {
    const std::string big = R"({"s": ")" + std::string(ParseLimits{}.max_bytes, 'a') + "\"}";
    DH_CHECK_PROBLEM(problem_of(json_mapping(), big), ProblemType::malformed_message, "", "larger than 4194304 bytes");
  }
}

TEST_CASE("json: an empty or blank body is refused", "[json][hostile]") {
  std::string body;
  SECTION("empty") {
    body = "";
  }
  SECTION("whitespace") {
    body = " \r\n\t";
  }
  const Problem p = problem_of(json_mapping(), body);
  DH_CHECK_PROBLEM(p, ProblemType::malformed_message, "", "not well-formed JSON at byte");
  CHECK(mapping::http_status(p.type) == 400);
}

TEST_CASE("json: a body that is a bare scalar is refused", "[json][hostile]") {
  std::string body;
  SECTION("string") {
    body = R"("KQ")";
  }
  SECTION("number") {
    body = "42";
  }
  SECTION("true") {
    body = "true";
  }
  SECTION("null") {
    body = "null";
  }
  const Problem p = problem_of(json_mapping(), body);
  DH_CHECK_PROBLEM(p, ProblemType::malformed_message, "", "the message must be a JSON object or array");
}

TEST_CASE("json: a body that is an array is parsed (and is then of no known type)", "[json]") {
  const Problem p = problem_of(json_mapping(), "[" + valid_json() + "]");
  DH_CHECK_PROBLEM(p, ProblemType::unknown_message_type, "", "matches none of this agency's message types");
}

// ---------------------------------------------------------------- JSON Pointer

namespace {

const std::string kPointerMapping = with_header(R"(format:
  kind: json
messages:
  - type: pointers
    kind: result_delivery
    fields:
      dossier_code: "/a~1b/m~0n"
      applicant.full_name: /ds/1/ten
      applicant.email: /ds/01/ten
      note: /ds/9/ten
      procedure.code: "/"
      procedure.name: /x/y/z
      delivery_address.line: /diaChi
)");

const Mapping& pointer_mapping() {
  static const Mapping m = load_yaml(kPointerMapping);
  return m;
}

}  // namespace

TEST_CASE("json pointer: ~1 and ~0 escapes, array indices, the empty key", "[json][pointer]") {
  const std::string body = R"({
    "a/b": {"m~n": "HS-1", "m": {"n": "WRONG"}},
    "a": {"b": {"m~n": "WRONG"}},
    "ds": [{"ten": "first"}, {"ten": "Lê Thị Hoa"}],
    "": "P-1",
    "x": null,
    "diaChi": "1 Lê Lợi"
  })";
  const Dossier d = dossier_of(pointer_mapping(), body);
  CHECK(d.dossier_code == "HS-1");
  CHECK(d.applicant.full_name == "Lê Thị Hoa");
  CHECK_FALSE(d.applicant.email);  // "01" is not an array index
  CHECK_FALSE(d.note);             // index out of range: no value
  REQUIRE(d.procedure);
  CHECK(d.procedure->code == "P-1");  // "/" is the key ""
  CHECK_FALSE(d.procedure->name);     // null along the path: no value
}

TEST_CASE("json pointer: null is no value", "[json][pointer]") {
  Message m;
  SECTION("an optional field") {
    m.extra = R"(, "ghiChu": null)";
    CHECK_FALSE(dossier_of(json_mapping(), m.json()).note);
  }
  SECTION("a field with a default") {
    m.fee = "null";
    CHECK(dossier_of(json_mapping(), m.json()).fees.cod_amount == 0);
  }
  SECTION("null where an object is expected along the path") {
    const std::string body = R"({"maThongDiep": "TD-1", "loaiThongDiep": "KQ", "data": null})";
    const Problem p = problem_of(json_mapping(), body);
    DH_CHECK_PROBLEM(p, ProblemType::invalid_message, "/dossier_code", "must not be empty");
  }
}

TEST_CASE("json pointer: an object or array where a value is expected is an error naming the field",
          "[json][pointer]") {
  Message m;
  SECTION("object") {
    m.code = R"({"ma": "SECRET"})";
    DH_CHECK_PROBLEM(problem_of(json_mapping(), m.json()), ProblemType::invalid_message, "/dossier_code",
                     "is an object where a value is expected");
  }
  SECTION("array") {
    m.phone = R"(["0903123456", "0912345678"])";
    DH_CHECK_PROBLEM(problem_of(json_mapping(), m.json()), ProblemType::invalid_message, "/applicant/phone",
                     "is an array where a value is expected");
  }
  SECTION("a number with a fraction where text is expected") {
    m.code = "1.5";
    DH_CHECK_PROBLEM(problem_of(json_mapping(), m.json()), ProblemType::invalid_message, "/dossier_code",
                     "must be text, got a number");
  }
  SECTION("a boolean where text is expected") {
    m.code = "true";
    DH_CHECK_PROBLEM(problem_of(json_mapping(), m.json()), ProblemType::invalid_message, "/dossier_code",
                     "must be text, got a boolean");
  }
}

TEST_CASE("json pointer: $/ starts from the document root inside records and items", "[json][pointer]") {
  const Mapping m = load_yaml(with_header(R"(format:
  kind: json
messages:
  - type: batch
    kind: result_delivery
    records:
      each: /data/ds
      fields:
        dossier_code: /ma
        source.message_id:
          concat: { parts: [{ path: $/header/id }, "#", { path: /ma }] }
        applicant.full_name: $/data/ten
        delivery_address.line: /diaChi
        note: /header/id
        items:
          each: /giayTo
          fields:
            name: { concat: { parts: [{ path: /ten }, " - ", { path: $/header/id }] } }
)"));
  const std::string body = R"({"header": {"id": "TD-9"}, "data": {"ten": "Lê Văn Tám", "ds": [
      {"ma": "HS-1", "diaChi": "1 Lê Lợi", "giayTo": [{"ten": "Thẻ"}]},
      {"ma": "HS-2", "diaChi": "2 Lê Lợi", "header": {"id": "RECORD-LOCAL"}}]}})";
  const auto t = translation_of(m, body);
  REQUIRE(t.dossiers.size() == 2);
  CHECK(t.dossiers[0].source.message_id == "TD-9#HS-1");
  CHECK(t.dossiers[1].source.message_id == "TD-9#HS-2");
  CHECK(t.dossiers[0].applicant.full_name == "Lê Văn Tám");
  CHECK_FALSE(t.dossiers[0].note);              // relative: the record has no header
  CHECK(t.dossiers[1].note == "RECORD-LOCAL");  // relative: the record's own
  REQUIRE(t.dossiers[0].items.size() == 1);
  CHECK(t.dossiers[0].items[0].name == "Thẻ - TD-9");
  CHECK(t.dossiers[1].items.empty());
}

TEST_CASE("json pointer: a pointer that is not RFC 6901 is a load error", "[json][pointer]") {
  const std::string head = with_header(R"(format:
  kind: json
messages:
  - type: t
    kind: result_delivery
    fields:
      applicant.full_name: /ten
      delivery_address.line: /diaChi
)");
  SECTION("no leading slash") {
    const std::string e = load_error(head + "      dossier_code: ma\n");
    CHECK_THAT(e, Catch::Matchers::StartsWith("/tmp/x/test-agency.yaml:14:21: field 'dossier_code'"));
    CHECK_THAT(e, Catch::Matchers::Contains("a JSON Pointer starts with '/'"));
  }
  SECTION("a bad escape") {
    const std::string e = load_error(head + "      dossier_code: /a~2b\n");
    CHECK_THAT(e, Catch::Matchers::StartsWith("/tmp/x/test-agency.yaml:14:21:"));
    CHECK_THAT(e, Catch::Matchers::Contains("'~' must be followed by 0 or 1"));
  }
  SECTION("a trailing ~") {
    const std::string e = load_error(head + "      dossier_code: /a~\n");
    CHECK_THAT(e, Catch::Matchers::Contains("'~' must be followed by 0 or 1"));
  }
  SECTION("namespaces are for xml") {
    const std::string e = load_error(with_header(R"(format:
  kind: json
  namespaces: { a: "urn:a" }
messages: []
)"));
    CHECK_THAT(e, Catch::Matchers::Contains("test-agency.yaml:7:3: format: namespaces are for the xml kind only"));
  }
  SECTION("soap is for xml") {
    const std::string e = load_error(with_header("format: { kind: json, soap: true }\nmessages: []\n"));
    CHECK_THAT(e, Catch::Matchers::Contains("soap is for the xml kind only"));
  }
}

// ---------------------------------------------------------------- JSON Schema

namespace {

constexpr std::string_view kSchema = R"({
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "required": ["loaiThongDiep", "data"],
  "properties": {
    "loaiThongDiep": {"type": "string"},
    "data": {
      "type": "object",
      "required": ["maHoSo"],
      "properties": {
        "maHoSo": {"type": "string", "maxLength": 30},
        "hoTen": {"type": "string", "pattern": "^[A-Za-z ]+$"},
        "soBan": {"type": "integer", "minimum": 1, "maximum": 10},
        "loai": {"enum": ["KQ", "TB"]},
        "ds": {"type": "array", "items": {"type": "string", "minLength": 3}}
      }
    }
  }
})";

const std::string kSchemaMapping = with_header(R"(format:
  kind: json
  schema: ketqua.schema.json
messages:
  - type: result
    when: { path: /loaiThongDiep, equals: KQ }
    kind: result_delivery
    fields:
      dossier_code: /data/maHoSo
      applicant.full_name: /data/hoTen
      delivery_address.line: /data/maHoSo
)");

}  // namespace

TEST_CASE("json schema: errors name the property and come before the message type", "[json][schema]") {
  TempDir dir;
  dir.write("ketqua.schema.json", kSchema);
  const Mapping m = Mapping::load(dir.write("test-agency.yaml", kSchemaMapping), adapters::builtin());
  CHECK(
      dossier_of(m, R"({"loaiThongDiep": "KQ", "data": {"maHoSo": "HS-1", "hoTen": "Tran Van Binh"}})").dossier_code ==
      "HS-1");

  SECTION("a missing property; the type would not match either") {
    const Problem p = problem_of(m, R"({"loaiThongDiep": "OTHER", "data": {}})");
    DH_CHECK_PROBLEM(p, ProblemType::schema_invalid, "/data", "Missing required property 'maHoSo'");
  }
  SECTION("type, length, pattern, range, enum and array item: no value is quoted") {
    const Problem p = problem_of(m, R"({"loaiThongDiep": 7, "data": {"maHoSo": "SECRET-SECRET-SECRET-SECRET-SECRET",
        "hoTen": "SECRET 9", "soBan": 987654, "loai": "SECRETLOAI", "ds": ["okay", "SE"]}})");
    DH_CHECK_PROBLEM(p, ProblemType::schema_invalid, "/loaiThongDiep", "type");
    DH_CHECK_PROBLEM(p, ProblemType::schema_invalid, "/data/maHoSo", "30 characters");
    DH_CHECK_PROBLEM(p, ProblemType::schema_invalid, "/data/hoTen", "pattern");
    DH_CHECK_PROBLEM(p, ProblemType::schema_invalid, "/data/soBan", "less than or equal to 10");
    DH_CHECK_PROBLEM(p, ProblemType::schema_invalid, "/data/loai", "enum");
    DH_CHECK_PROBLEM(p, ProblemType::schema_invalid, "/data/ds/1", "3 characters");
    CHECK_FALSE(any_reason_contains(p, "SECRET"));
    CHECK_FALSE(any_reason_contains(p, "987654"));
    CHECK_FALSE(any_reason_contains(p, "SE\""));
  }
  SECTION("hostile-input checks still come first") {
    const Problem p = problem_of(m, R"({"loaiThongDiep": "KQ", "loaiThongDiep": "KQ"})");
    DH_CHECK_PROBLEM(p, ProblemType::malformed_message, "/loaiThongDiep", "appears twice");
  }
}

TEST_CASE("json schema: a missing or broken schema is a load error", "[json][schema]") {
  TempDir dir;
  SECTION("missing") {
    const std::string e = load_error(kSchemaMapping, dir.path() / "test-agency.yaml");
    CHECK_THAT(e, Catch::Matchers::Contains("test-agency.yaml:8:11: schema file"));
    CHECK_THAT(e, Catch::Matchers::Contains("does not exist"));
  }
  SECTION("not JSON") {
    dir.write("ketqua.schema.json", "{ not json");
    const std::string e = load_error(kSchemaMapping, dir.path() / "test-agency.yaml");
    CHECK_THAT(e, Catch::Matchers::Contains("test-agency.yaml:7:3: format: the JSON Schema ketqua.schema.json is not "
                                            "valid JSON"));
  }
}

// ---------------------------------------------------------------- regressions: bugs these tests found, now fixed

TEST_CASE("json: a NUL in a key is reported at that key's path", "[json][hostile][regression]") {
  // StrictHandler::on_key fails before it records the new key, so where() names the key before it:
  // the error below says /data/ok, a key that is fine.
  const Problem p = problem_of(json_mapping(), R"({"data": {"ok": 1, "a\u0000b": 2}})");
  REQUIRE(p.errors.errors.size() == 1);
  CHECK(p.errors.errors[0].path != "/data/ok");
}
