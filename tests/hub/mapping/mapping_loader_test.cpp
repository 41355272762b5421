// Mapping::load and Mapping::load_text: every load error names the file, the line and column of
// the offending node, and says what is wrong in a phrase a mapping author can act on.
#include "tests/support/mapping_fixture.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace dh;
using namespace dh::testing;

namespace {

// A mapping that loads; each test breaks one thing in it. Line numbers below refer to this text.
const std::string kGood = R"(mapping: dossier-hub/mapping/v1
agency:
  name: Sở Ví dụ
  organs: { "000.00.12.H29": Sở Ví dụ Một Cửa }
identity: { subject_cn: test-agency, issuer: "CN=Test CA,O=Dossier Hub" }
format:
  kind: xml
  namespaces: { kq: "urn:example:ketqua:1" }
tables:
  payer: { "1": recipient, "2": agency }
  status_out: { ordered: "01", delivered: "05", returned: 7 }
messages:
  - type: result
    when: { path: /kq:KetQua, exists: true }
    kind: result_delivery
    fields:
      dossier_code: { path: /kq:KetQua/kq:MaHoSo, required: true }
      applicant.full_name: { path: /kq:KetQua/kq:HoTen, transform: [collapse_spaces, title] }
      fees.postage_paid_by: { path: /kq:KetQua/kq:NguoiTra, transform: [{ table: payer }], default: recipient }
      dates.ready_at: { path: /kq:KetQua/kq:NgayTra, transform: [{ date: dd/MM/yyyy }] }
      delivery_address.line: /kq:KetQua/kq:DiaChi
  - type: pickup
    kind: dossier_pickup
    fields:
      dossier_code: /kq:ThuGom/kq:MaHoSo
      applicant.full_name: /kq:ThuGom/kq:HoTen
      pickup_address.ward_code: { path: /kq:ThuGom/kq:MaPhuong, transform: [{ pad_left: 5 }] }
callback:
  url: https://example.gov.vn/bcci/status
  statuses: [ordered, delivered, returned]
  root: kq:CapNhat
  fields:
    kq:MaHoSo: dossier_code
    kq:TrangThai: { from: status, transform: [{ table: status_out }] }
    kq:ThoiGian: { from: event.time, date: "dd/MM/yyyy HH:mm:ss" }
)";

// kGood with exactly one occurrence of `from` replaced by `to`.
std::string with(std::string_view from, std::string_view to) {
  std::string s = kGood;
  const auto at = s.find(from);
  REQUIRE(at != std::string::npos);
  REQUIRE(s.find(from, at + 1) == std::string::npos);
  s.replace(at, from.size(), to);
  return s;
}

// Checks that loading `yaml` fails at `where` ("L:C", or "" for no position) saying `phrase`.
void check_load_error(const std::string& yaml, std::string_view where, std::string_view phrase,
                      const fs::path& file = "/tmp/x/test-agency.yaml") {
  const std::string e = load_error(yaml, file);
  INFO("error: " << e);
  REQUIRE(e != "(loaded)");
  const std::string prefix = file.string() + (where.empty() ? "" : ":" + std::string(where)) + ": ";
  CHECK_THAT(e, Catch::Matchers::StartsWith(prefix));
  CHECK_THAT(e, Catch::Matchers::Contains(std::string(phrase)));
}

}  // namespace

TEST_CASE("loader: a good mapping loads, with what it declares", "[loader]") {
  const Mapping m = load_yaml(kGood);
  CHECK(m.agency_id() == "test-agency");
  CHECK(m.agency_name() == "Sở Ví dụ");
  REQUIRE(m.organs().size() == 1);
  CHECK(m.organs()[0].id == "000.00.12.H29");
  CHECK(m.organs()[0].name == "Sở Ví dụ Một Cửa");
  CHECK(m.identity().subject_cn == "test-agency");
  CHECK_FALSE(m.identity().san_uri);
  CHECK(m.identity().issuer == "CN=Test CA,O=Dossier Hub");
  CHECK(m.source_format() == SourceFormat::xml);
  CHECK(m.message_types() == std::vector<std::string>{"result", "pickup"});
  CHECK(m.has_callback());
  CHECK(m.file() == fs::path("/tmp/x/test-agency.yaml"));
}

TEST_CASE("loader: Mapping::load reads a file, and says when it cannot", "[loader]") {
  TempDir dir;
  SECTION("a file") {
    const Mapping m = Mapping::load(dir.write("hcm-example-2.yaml", kGood), adapters::builtin());
    CHECK(m.agency_id() == "hcm-example-2");
  }
  SECTION("no such file") {
    try {
      (void)Mapping::load(dir.path() / "absent.yaml", adapters::builtin());
      FAIL("loaded");
    } catch (const mapping::MappingError& e) {
      CHECK_THAT(e.what(), Catch::Matchers::EndsWith("absent.yaml: cannot read the file"));
    }
  }
  SECTION("not UTF-8") {
    const fs::path f = dir.write("test-agency.yaml", with("name: Sở Ví dụ", "name: S\xF8 V\xED d\xFB"));
    try {
      (void)Mapping::load(f, adapters::builtin());
      FAIL("loaded");
    } catch (const mapping::MappingError& e) {
      CHECK_THAT(e.what(), Catch::Matchers::EndsWith("test-agency.yaml: not valid UTF-8 at byte 49"));
    }
  }
}

TEST_CASE("loader: unknown keys are errors everywhere, listing what is expected", "[loader]") {
  SECTION("top level") {
    check_load_error(kGood + "mapings: 1\n", "36:1",
                     "unknown key 'mapings' in the mapping (expected one of: mapping, agency, identity, format, "
                     "tables, messages, callback, limits)");
  }
  SECTION("in a field rule") {
    check_load_error(with("MaHoSo, required: true", "MaHoSo, requried: true"), "17:51",
                     "unknown key 'requried' in field rule (expected one of: path, const, concat, default, "
                     "required, transform)");
  }
  SECTION("in format") {
    check_load_error(with("  kind: xml\n", "  kind: xml\n  sope: true\n"), "8:3",
                     "unknown key 'sope' in format (expected one of: kind, namespaces, schema, soap)");
  }
  SECTION("in agency") {
    check_load_error(with("  name: Sở Ví dụ\n", "  name: Sở Ví dụ\n  ten: x\n"), "4:3", "unknown key 'ten' in agency");
  }
  SECTION("in identity") {
    check_load_error(with("subject_cn: test-agency,", "subject_cn: test-agency, cn: x,"), "5:38",
                     "unknown key 'cn' in identity");
  }
  SECTION("in a message type") {
    check_load_error(with("    kind: dossier_pickup\n", "    kind: dossier_pickup\n    khi: x\n"), "24:5",
                     "unknown key 'khi' in a message type (expected one of: type, when, kind, fields, records)");
  }
  SECTION("in a condition") {
    check_load_error(with("exists: true }", "exist: true }"), "14:31", "unknown key 'exist' in a condition");
  }
  SECTION("in a callback field") {
    check_load_error(with("from: event.time,", "from: event.time, format: x,"), "35:38",
                     "unknown key 'format' in callback field (expected one of: from, const, transform, date)");
  }
  SECTION("a field that cannot be mapped") {
    check_load_error(with("applicant.full_name: { path: /kq:KetQua", "applicant.fullname: { path: /kq:KetQua"), "18:7",
                     "'applicant.fullname' is not a field you can map");
  }
}

TEST_CASE("loader: duplicate keys are errors", "[loader]") {
  SECTION("top level") {
    check_load_error(kGood + "tables: {}\n", "36:1", "duplicate key 'tables' in the mapping");
  }
  SECTION("in a field rule") {
    check_load_error(with("MaHoSo, required: true", "MaHoSo, path: /x, required: true"), "17:51",
                     "duplicate key 'path' in field rule");
  }
  SECTION("two rules for one field") {
    check_load_error(with("      delivery_address.line: /kq:KetQua/kq:DiaChi\n",
                          "      delivery_address.line: /kq:KetQua/kq:DiaChi\n"
                          "      delivery_address.line: /kq:KetQua/kq:DiaChi2\n"),
                     "22:7", "duplicate key 'delivery_address.line' in fields");
  }
  SECTION("in a table") {
    check_load_error(with(R"({ "1": recipient,)", R"({ "1": recipient, "1": agency,)"), "10:28",
                     "duplicate key '1' in table 'payer'");
  }
  SECTION("two organs with one id") {
    check_load_error(
        with(R"("000.00.12.H29": Sở Ví dụ Một Cửa)", R"("000.00.12.H29": Sở Ví dụ Một Cửa, "000.00.12.H29": Khác)"),
        "4:57", "duplicate key '000.00.12.H29' in agency.organs");
  }
  SECTION("a namespace prefix twice") {
    check_load_error(with(R"({ kq: "urn:example:ketqua:1" })", R"({ kq: "urn:a", kq: "urn:b" })"), "8:30",
                     "duplicate key 'kq' in format.namespaces");
  }
}

TEST_CASE("loader: the language version must be the one this hub reads", "[loader]") {
  SECTION("another version") {
    check_load_error(with("mapping: dossier-hub/mapping/v1", "mapping: dossier-hub/mapping/v2"), "1:10",
                     "unsupported mapping language 'dossier-hub/mapping/v2' (this hub reads dossier-hub/mapping/v1)");
  }
  SECTION("missing") {
    check_load_error(with("mapping: dossier-hub/mapping/v1\n", ""), "1:1", "the mapping needs 'mapping'");
  }
}

TEST_CASE("loader: the adapter kind must be one this hub has", "[loader]") {
  check_load_error(with("kind: xml", "kind: csv"), "7:9", "unknown adapter kind 'csv' (this hub has: xml, json)");
}

TEST_CASE("loader: transforms must exist, with the options they need", "[loader]") {
  SECTION("an unknown name") {
    check_load_error(with("[collapse_spaces, title]", "[collapse_spaces, titlecase]"), "18:86",
                     "unknown transform 'titlecase' (expected one of: trim, collapse_spaces");
  }
  SECTION("an unknown one-key map") {
    check_load_error(with("[{ pad_left: 5 }]", "[{ pad_right: 5 }]"), "27:77", "unknown transform 'pad_right'");
  }
  SECTION("date without its pattern") {
    check_load_error(with("[{ date: dd/MM/yyyy }]", "[date]"), "20:66",
                     "transform 'date' needs an option: {date: ...}");
  }
  SECTION("transform is not a list") {
    check_load_error(with("[collapse_spaces, title]", "title"), "18:68", "transform must be a list of transforms");
  }
  SECTION("a table that does not exist") {
    check_load_error(with("[{ table: payer }]", "[{ table: payers }]"), "19:82",
                     "no table named 'payers' in tables (expected one of: payer");
  }
  SECTION("a bad date pattern") {
    check_load_error(with("{ date: dd/MM/yyyy }", "{ date: dd/MM/yy }"), "20:74",
                     "date pattern: year must be written yyyy");
  }
  SECTION("a bad date pattern in a list") {
    check_load_error(with("{ date: dd/MM/yyyy }", "{ date: [iso, dd/mm/yyyy] }"), "20:80",
                     "date pattern: a date pattern needs yyyy, MM and dd");
  }
  SECTION("pad_left out of range") {
    check_load_error(with("{ pad_left: 5 }", "{ pad_left: 0 }"), "27:89", "pad_left needs a width between 1 and 64");
    check_load_error(with("{ pad_left: 5 }", "{ pad_left: 65 }"), "27:89", "between 1 and 64");
    check_load_error(with("{ pad_left: 5 }", "{ pad_left: five }"), "27:89", "between 1 and 64");
  }
  SECTION("table with an unknown option") {
    check_load_error(with("{ table: payer }", "{ table: payer, else: x }"), "19:89",
                     "unknown key 'else' in transform table (expected one of: table, otherwise)");
  }
}

TEST_CASE("loader: a message type must map what its dossier needs", "[loader]") {
  SECTION("no dossier_code") {
    check_load_error(with("      dossier_code: /kq:ThuGom/kq:MaHoSo\n", ""), "22:5",
                     "message type 'pickup' maps no dossier_code, which every dossier needs");
  }
  SECTION("no applicant.full_name") {
    check_load_error(with("      applicant.full_name: /kq:ThuGom/kq:HoTen\n", ""), "22:5",
                     "message type 'pickup' maps no applicant.full_name, which every dossier needs");
  }
  SECTION("no address for its kind") {
    check_load_error(with("      delivery_address.line: /kq:KetQua/kq:DiaChi\n", ""), "13:5",
                     "message type 'result' maps no delivery_address, which a result_delivery dossier needs");
  }
  SECTION("the address of the other kind") {
    check_load_error(with("pickup_address.ward_code", "delivery_address.ward_code"), "22:5",
                     "message type 'pickup' maps no pickup_address, which a dossier_pickup dossier needs");
  }
  SECTION("a kind that does not exist") {
    check_load_error(with("kind: dossier_pickup", "kind: pickup"), "23:11",
                     "unknown kind 'pickup' (expected one of: result_delivery, dossier_pickup)");
  }
  SECTION("no type name") {
    check_load_error(with("  - type: pickup\n    kind", "  - kind"), "22:5", "a message type needs 'type'");
  }
  SECTION("no messages") {
    check_load_error(kGood.substr(0, kGood.find("messages:")) + "messages: []\n", "12:11",
                     "messages must be a non-empty list");
  }
  SECTION("records without each") {
    check_load_error(with("    kind: dossier_pickup\n", "    kind: dossier_pickup\n    records: { fields: {} }\n"),
                     "24:14", "records needs 'each' and 'fields'");
  }
  SECTION("items without a name rule") {
    check_load_error(
        with("    kind: dossier_pickup\n    fields:\n",
             "    kind: dossier_pickup\n    fields:\n      items: { each: /x, fields: { quantity: /q } }\n"),
        "25:34", "items.fields needs a rule for 'name'");
  }
  SECTION("an item field that does not exist") {
    check_load_error(
        with("    kind: dossier_pickup\n    fields:\n",
             "    kind: dossier_pickup\n    fields:\n      items: { each: /x, fields: { name: /n, colour: /c } }\n"),
        "25:46", "'colour' is not a field you can map in items (expected name, quantity, original)");
  }
}

TEST_CASE("loader: only the last message type may be a catch-all", "[loader]") {
  check_load_error(with("    when: { path: /kq:KetQua, exists: true }\n", ""), "13:5",
                   "message type 'result' has no 'when': only the last message type may be a catch-all");
}

TEST_CASE("loader: message type names are unique", "[loader]") {
  check_load_error(with("type: pickup", "type: result"), "22:11", "message type 'result' is defined twice");
}

TEST_CASE("loader: field rules and conditions have exactly one source and one test", "[loader]") {
  SECTION("two sources") {
    check_load_error(with("{ path: /kq:KetQua/kq:NgayTra,", "{ const: x, path: /kq:KetQua/kq:NgayTra,"), "20:23",
                     "field 'dates.ready_at' needs exactly one of path, const, concat");
  }
  SECTION("no source") {
    check_load_error(with("{ path: /kq:KetQua/kq:MaHoSo, required: true }", "{ required: true }"), "17:21",
                     "field 'dossier_code' needs exactly one of path, const, concat");
  }
  SECTION("required is not a boolean") {
    check_load_error(with("required: true", "required: yes"), "17:61",
                     "field 'dossier_code' required must be true or false");
  }
  SECTION("a null default") {
    check_load_error(with("default: recipient", "default: ~"), "19:101",
                     "field 'fees.postage_paid_by' default must be a single value");
  }
  SECTION("a condition with two tests") {
    check_load_error(with("exists: true }", "exists: true, equals: x }"), "14:11",
                     "a condition needs exactly one of exists, equals, in");
  }
  SECTION("an empty 'in'") {
    check_load_error(with("exists: true }", "in: [] }"), "14:35", "'in' needs a non-empty list");
  }
  SECTION("a concat part that is neither text nor a path") {
    check_load_error(with("delivery_address.line: /kq:KetQua/kq:DiaChi",
                          "delivery_address.line: { concat: { parts: [{ transform: [trim] }] } }"),
                     "21:50", "a concat part is text or {path: P}");
  }
}

TEST_CASE("loader: agency and identity are complete", "[loader]") {
  SECTION("no organs") {
    check_load_error(with(R"({ "000.00.12.H29": Sở Ví dụ Một Cửa })", "{}"), "4:11",
                     "agency.organs must list at least one organ id");
  }
  SECTION("no certificate subject key") {
    check_load_error(with("subject_cn: test-agency, ", ""), "5:11",
                     "identity needs at least one of subject_cn, san_uri, san_dns");
  }
  SECTION("no issuer") {
    check_load_error(with(R"(, issuer: "CN=Test CA,O=Dossier Hub")", ""), "5:11", "identity needs 'issuer'");
  }
  SECTION("an issuer that is not a distinguished name") {
    check_load_error(with(R"("CN=Test CA,O=Dossier Hub")", R"("Test CA")"), "5:46", "identity.issuer: ");
  }
}

TEST_CASE("loader: callback errors", "[loader][callback]") {
  SECTION("an http:// url") {
    check_load_error(with("url: https://example.gov.vn", "url: http://example.gov.vn"), "29:8",
                     "callback.url must be an https:// URL");
  }
  SECTION("an unknown status") {
    check_load_error(with("[ordered, delivered, returned]", "[ordered, shipped]"), "30:23",
                     "unknown status 'shipped' (expected one of: accepted, ordered, picked_up, in_transit, "
                     "out_for_delivery, delivery_failed, delivered, returned, cancelled, dead_lettered)");
  }
  SECTION("an unknown source") {
    check_load_error(with("kq:MaHoSo: dossier_code", "kq:MaHoSo: dossier_id"), "33:16",
                     "unknown callback source 'dossier_id' (expected one of: dossier_code, hub_id, source.message_id,"
                     " agency.organ_id, status, item_code, event.id, event.time, event.reason, post_office)");
  }
  SECTION("an unknown source under from") {
    check_load_error(with("from: event.time", "from: event.date"), "35:26", "unknown callback source 'event.date'");
  }
  SECTION("a status table that lacks a subscribed status") {
    check_load_error(with("statuses: [ordered, delivered, returned]", "statuses: [ordered, delivered, cancelled]"),
                     "34:5", "table 'status_out' has no entry for the status 'cancelled' that callback.statuses lists");
  }
  SECTION("an xml callback without root") {
    check_load_error(with("  root: kq:CapNhat\n", ""), "29:3", "callback (xml) needs 'root'");
  }
  SECTION("an output path with an undeclared prefix") {
    check_load_error(with("kq:MaHoSo: dossier_code", "zz:MaHoSo: dossier_code"), "33:5",
                     "output path: the prefix 'zz' is not declared in format.namespaces");
  }
  SECTION("an attribute that is not last") {
    check_load_error(with("kq:MaHoSo: dossier_code", "\"@a/kq:MaHoSo\": dossier_code"), "33:5",
                     "output path: an attribute must be the last step");
  }
  SECTION("a callback format that is not a kind") {
    check_load_error(with("  root: kq:CapNhat\n", "  root: kq:CapNhat\n  format: csv\n"), "32:11",
                     "unknown callback.format 'csv' (expected one of: xml, json)");
  }
  SECTION("a json callback: pointers, and no root") {
    check_load_error(with("  root: kq:CapNhat\n", "  root: kq:CapNhat\n  format: json\n"), "31:9",
                     "callback.root is for xml callbacks only");
  }
  SECTION("a SOAP version that is not one") {
    check_load_error(with("  root: kq:CapNhat\n", "  root: kq:CapNhat\n  soap: \"1.3\"\n"), "32:9",
                     "unknown callback.soap '1.3' (expected one of: 1.1, 1.2)");
  }
  SECTION("a SOAP envelope around a json callback") {
    check_load_error(with("  root: kq:CapNhat\n", "  format: json\n  soap: \"1.1\"\n"), "32:9",
                     "callback.soap is for xml callbacks only");
  }
  SECTION("a SOAP action without SOAP") {
    check_load_error(with("  root: kq:CapNhat\n", "  root: kq:CapNhat\n  soap_action: urn:x\n"), "32:16",
                     "callback.soap_action needs callback.soap");
  }
  SECTION("a SOAP action that would break its header") {
    check_load_error(with("  root: kq:CapNhat\n", "  root: kq:CapNhat\n  soap: \"1.1\"\n  soap_action: \"urn:a b\"\n"),
                     "33:16", "callback.soap_action must be a URI: visible ASCII, no spaces, quotes or backslashes");
  }
  SECTION("a callback field with both from and const") {
    check_load_error(with("{ from: event.time,", "{ const: x, from: event.time,"), "35:18",
                     "a callback field needs exactly one of from, const");
  }
}

TEST_CASE("loader: invalid YAML syntax is reported where it is", "[loader]") {
  SECTION("an unclosed flow sequence") {
    check_load_error(with("statuses: [ordered, delivered, returned]", "statuses: [ordered, delivered, returned"),
                     "31:7", "end of sequence flow not found");
  }
  SECTION("bad indentation") {
    check_load_error(with("  name: Sở Ví dụ\n", "  name: Sở Ví dụ\n name: x\n"), "4:2", "end of map not found");
  }
  SECTION("a tab") {
    check_load_error(with("  kind: xml", "\tkind: xml"), "7:1",
                     "a tab in the indentation: YAML indents with spaces only (the parser says: illegal map value)");
  }
  SECTION("not a map") {
    check_load_error("- a\n- b\n", "1:1", "a mapping file must be a YAML map");
  }
  SECTION("empty") {
    check_load_error("", "", "a mapping file must be a YAML map");
  }
}

TEST_CASE("loader: a deeply nested YAML document is refused, not a crash", "[loader][hostile]") {
  const std::string deep = kGood + "x: " + repeat("[", 100'000) + repeat("]", 100'000) + "\n";
  const std::string e = load_error(deep);
  CHECK_THAT(e, Catch::Matchers::StartsWith("/tmp/x/test-agency.yaml:"));
}

TEST_CASE("loader: the file name must be a valid agency id", "[loader]") {
  const std::string why = "a mapping file must be named <agency-id>.yaml with an id of a-z, 0-9 and '-'";
  check_load_error(kGood, "", why, "/tmp/x/Test_Agency.yaml");
  check_load_error(kGood, "", why, "/tmp/x/-agency.yaml");
  check_load_error(kGood, "", why, "/tmp/x/test-agency.yml");
  check_load_error(kGood, "", why, "/tmp/x/test agency.yaml");
  check_load_error(kGood, "", why, "/tmp/x/sở-tư-pháp.yaml");
  CHECK(load_yaml(kGood, "/tmp/x/0-hcm-2.yaml").agency_id() == "0-hcm-2");
}

// ---------------------------------------------------------------- regressions: bugs these tests found, now fixed

TEST_CASE("loader: an empty 'when' list is refused", "[loader][regression]") {
  // `when: []` loads as "no conditions", which always holds: the types after it can never match.
  // Leaving `when` out is refused for exactly this reason (load_message); an empty list is not.
  const std::string e = load_error(with("when: { path: /kq:KetQua, exists: true }", "when: []"));
  CHECK(e != "(loaded)");
}

TEST_CASE("loader: callback.root must be an element name with a declared prefix", "[loader][callback][regression]") {
  // Output paths go through check_output_path; the root does not, so the rendered body is not
  // namespace-well-formed (<zz:CapNhat> with no xmlns:zz) or not XML at all.
  CHECK(load_error(with("root: kq:CapNhat", "root: zz:CapNhat")) != "(loaded)");
  CHECK(load_error(with("root: kq:CapNhat", "root: \"1 <bad\"")) != "(loaded)");
}

TEST_CASE("loader: limits give the agency its own request rate, burst 2 x rate unless said", "[loader]") {
  CHECK_FALSE(load_yaml(kGood).rate_limit());
  const auto own = load_yaml(kGood + "limits: { rate: 2.5 }\n").rate_limit();
  REQUIRE(own);
  CHECK(own->rate == 2.5);
  CHECK(own->burst == 5);
  const auto both = load_yaml(kGood + "limits: { rate: 50, burst: 80 }\n").rate_limit();
  REQUIRE(both);
  CHECK(both->rate == 50);
  CHECK(both->burst == 80);
  CHECK(load_yaml(kGood + "limits: { rate: 0.1 }\n").rate_limit()->burst == 1);  // at least one request
}

TEST_CASE("loader: limits are checked where they are written", "[loader]") {
  check_load_error(kGood + "limits: { rate: 0 }\n", "36:17", "limits.rate must be a number above 0");
  check_load_error(kGood + "limits: { rate: fast }\n", "36:17", "limits.rate must be a number above 0");
  check_load_error(kGood + "limits: { rate: 10, burst: 0.5 }\n", "36:28", "limits.burst must be a number from 1");
  check_load_error(kGood + "limits: { burst: 10 }\n", "36:9", "limits needs 'rate'");
  check_load_error(kGood + "limits: { rate: 10, per: minute }\n", "36:21",
                   "unknown key 'per' in limits (expected one of: rate, burst)");
}

TEST_CASE("loader: a const or default that cannot go into its field is refused at load", "[loader]") {
  SECTION("a default that is not one of the field's values") {
    check_load_error(with("default: recipient", "default: citizen"), "19:101",
                     "field 'fees.postage_paid_by' default must be recipient or agency");
  }
  SECTION("a default of the wrong type") {
    check_load_error(with("delivery_address.line: /kq:KetQua/kq:DiaChi",
                          "fees.cod_amount: { path: /kq:KetQua/kq:Tien, default: free }\n"
                          "      delivery_address.line: /kq:KetQua/kq:DiaChi"),
                     "21:61", "field 'fees.cod_amount' default must be a whole number");
    check_load_error(with("delivery_address.line: /kq:KetQua/kq:DiaChi",
                          "dates.due_at: { path: /kq:KetQua/kq:Han, default: 15/08/2025 }\n"
                          "      delivery_address.line: /kq:KetQua/kq:DiaChi"),
                     "21:57", "field 'dates.due_at' default must be a time");
  }
  SECTION("a const after its transforms") {
    check_load_error(with("      applicant.full_name: /kq:ThuGom/kq:HoTen\n",
                          "      applicant.full_name: /kq:ThuGom/kq:HoTen\n"
                          "      fees.postage_paid_by: { const: \"3\", transform: [{ table: payer }] }\n"),
                     "27:38", "field 'fees.postage_paid_by' const: ");
  }
  SECTION("values that fit load") {
    CHECK(load_error(with("default: recipient", "default: agency")) == "(loaded)");
    CHECK(load_error(with("delivery_address.line: /kq:KetQua/kq:DiaChi",
                          "fees.cod_amount: { path: /kq:KetQua/kq:Tien, default: 0 }\n"
                          "      delivery_address.line: /kq:KetQua/kq:DiaChi")) == "(loaded)");
    CHECK(load_error(with("      applicant.full_name: /kq:ThuGom/kq:HoTen\n",
                          "      applicant.full_name: /kq:ThuGom/kq:HoTen\n"
                          "      fees.postage_paid_by: { const: \"2\", transform: [{ table: payer }] }\n")) ==
          "(loaded)");
  }
}

TEST_CASE("loader: organ ids have the QCVN 102 shape", "[loader]") {
  check_load_error(with("\"000.00.12.H29\"", "\"12.H29\""), "4:13",
                   "organ id '12.H29' is not a QCVN 102 organ id: ddd.dd.dd.Xdd, such as 000.00.12.H29");
  check_load_error(with("\"000.00.12.H29\"", "\"000.00.12.h29\""), "4:13", "is not a QCVN 102 organ id");
  CHECK(load_error(with("\"000.00.12.H29\"", "\"000.00.04.G14\"")) == "(loaded)");
}

TEST_CASE("loader: a tab in the indentation is called a tab, where it is", "[loader]") {
  check_load_error(with("      dossier_code: /kq:ThuGom/kq:MaHoSo", "  \t    dossier_code: /kq:ThuGom/kq:MaHoSo"),
                   "25:3", "a tab in the indentation");
}
