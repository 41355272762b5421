// Translation semantics of the mapping engine (docs/mappings.md, "messages" and "callback"):
// which message type is used, batches and records, items, defaults, required fields, organs,
// concat, Unicode normalisation, type conversion, and rendering status callbacks.
#include "hub/common/text.hpp"
#include "tests/support/mapping_fixture.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <string>
#include <thread>
#include <vector>

using namespace dh;
using namespace dh::testing;
namespace json = boost::json;

// ---------------------------------------------------------------- message types

namespace {

const std::string kTypes = with_header(R"(format:
  kind: json
messages:
  - type: result
    when: { path: /loai, equals: KQ }
    kind: result_delivery
    fields: &fields
      dossier_code: /ma
      applicant.full_name: /ten
      delivery_address.line: /diaChi
  - type: result_or_notice
    when: { path: /loai, in: [KQ, TB, "1", Kết quả] }
    kind: result_delivery
    fields: *fields
  - type: pickup
    when: [{ path: /thuGom, exists: true }, { path: /huy, exists: false }]
    kind: dossier_pickup
    fields:
      dossier_code: /ma
      applicant.full_name: /ten
      pickup_address.line: /diaChi
  - type: anything_else
    kind: result_delivery
    fields: *fields
)");

std::string typed(std::string_view loai_json, std::string_view extra = "") {
  return R"({"loai": )" + std::string(loai_json) + R"(, "ma": "HS-1", "ten": "An", "diaChi": "1 Lê Lợi")" +
         std::string(extra) + "}";
}

}  // namespace

TEST_CASE("mapping: the first message type whose conditions all hold wins", "[mapping][types]") {
  const Mapping m = load_yaml(kTypes);
  CHECK(translation_of(m, typed(R"("KQ")")).message_type == "result");  // also matches the second
  CHECK(translation_of(m, typed(R"("TB")")).message_type == "result_or_notice");
  CHECK(translation_of(m, typed(R"("  KQ ")")).message_type == "result");      // trimmed
  CHECK(translation_of(m, typed("1")).message_type == "result_or_notice");     // a number, as text
  CHECK(translation_of(m, typed(R"("kq")")).message_type == "anything_else");  // case matters
  CHECK(translation_of(m, typed("null")).message_type == "anything_else");
  CHECK(translation_of(m, typed(R"("KQ")")).batch == false);
  // NFD in the message matches NFC in the mapping.
  CHECK(translation_of(m, typed(R"("Ke\u0302\u0301t qua\u0309")")).message_type == "result_or_notice");

  SECTION("a list of conditions must all hold") {
    const auto t = translation_of(m, typed(R"("X")", R"(, "thuGom": {})"));
    CHECK(t.message_type == "pickup");
    CHECK(t.dossiers.at(0).kind == DossierKind::dossier_pickup);
    CHECK(t.dossiers.at(0).pickup_address);
    CHECK_FALSE(t.dossiers.at(0).delivery_address);
    CHECK(translation_of(m, typed(R"("X")", R"(, "thuGom": {}, "huy": true)")).message_type == "anything_else");
  }
}

TEST_CASE("mapping: a message of no known type is refused, listing the types", "[mapping][types]") {
  const Mapping m = load_yaml(with_header(R"(format:
  kind: json
messages:
  - type: result
    when: { path: /loai, equals: KQ }
    kind: result_delivery
    fields: { dossier_code: /ma, applicant.full_name: /ten, delivery_address.line: /diaChi }
  - type: cancel
    when: { path: /loai, equals: HUY }
    kind: result_delivery
    fields: { dossier_code: /ma, applicant.full_name: /ten, delivery_address.line: /diaChi }
)"));
  const Problem p = problem_of(m, typed(R"("TB")"));
  DH_CHECK_PROBLEM(p, ProblemType::unknown_message_type, "",
                   "matches none of this agency's message types (result, cancel)");
  CHECK(p.message_type.empty());
  CHECK(mapping::http_status(p.type) == 422);
  CHECK(p.errors.errors.size() == 1);
}

// ---------------------------------------------------------------- batches

namespace {

const std::string kBatch = with_header(R"(format:
  kind: json
messages:
  - type: cards
    kind: result_delivery
    fields:
      dossier_code: /maHoSoChung
      applicant.full_name: { path: /tenChung, transform: [title] }
      delivery_address.province_code: { const: "79" }
      dates.ready_at: { path: /ngayCap, transform: [{ date: dd/MM/yyyy }] }
      note: { path: /ghiChu, required: true }
    records:
      each: /the
      fields:
        dossier_code: /maHoSo
        source.message_id: { concat: { parts: [{ path: $/maThongDiep }, "#", { path: /maHoSo }] } }
        applicant.phone: { path: /dienThoai, transform: [phone] }
        delivery_address.ward_code: /maPhuong
)");

const Mapping& batch_mapping() {
  static const Mapping m = load_yaml(kBatch);
  return m;
}

std::string batch(std::string_view cards, std::string_view ghi_chu = R"("Giao giờ hành chính")") {
  return R"({"maThongDiep": "TD-7", "maHoSoChung": "SHARED", "tenChung": "LÊ VĂN TÁM", "ngayCap": "15/01/2025",)"
         R"( "ghiChu": )" +
         std::string(ghi_chu) + R"(, "the": [)" + std::string(cards) + "]}";
}

constexpr std::string_view kCard1 = R"({"maHoSo": "HS-1", "dienThoai": "0903123456", "maPhuong": "26740"})";
constexpr std::string_view kCard2 = R"({"maHoSo": "HS-2", "dienThoai": "0912345678", "maPhuong": "26743"})";

}  // namespace

TEST_CASE("batch: each record is its own dossier, and a record's rule wins over the message's", "[mapping][batch]") {
  const auto t = translation_of(batch_mapping(), batch(std::string(kCard1) + "," + std::string(kCard2)));
  CHECK(t.batch);
  CHECK(t.message_type == "cards");
  REQUIRE(t.dossiers.size() == 2);
  CHECK(t.dossiers[0].dossier_code == "HS-1");  // never "SHARED"
  CHECK(t.dossiers[1].dossier_code == "HS-2");
  CHECK(t.dossiers[0].source.message_id == "TD-7#HS-1");
  CHECK(t.dossiers[1].source.message_id == "TD-7#HS-2");
  for (const auto& d : t.dossiers) {
    CHECK(d.applicant.full_name == "Lê Văn Tám");  // shared, from the document root
    CHECK(d.note == "Giao giờ hành chính");
    REQUIRE(d.dates.ready_at);
    CHECK(d.dates.ready_at->to_rfc3339() == "2025-01-15T00:00:00+07:00");
    REQUIRE(d.delivery_address);
    CHECK(d.delivery_address->province_code == "79");
  }
  CHECK(t.dossiers[0].applicant.phone == "+84903123456");
  CHECK(t.dossiers[1].delivery_address->ward_code == "26743");
}

TEST_CASE("batch: a batch of one record is still a batch", "[mapping][batch]") {
  const auto t = translation_of(batch_mapping(), batch(kCard1));
  CHECK(t.batch);
  REQUIRE(t.dossiers.size() == 1);
  CHECK(t.dossiers[0].dossier_code == "HS-1");
}

TEST_CASE("batch: a batch with no records is refused", "[mapping][batch]") {
  SECTION("an empty list") {
    const Problem p = problem_of(batch_mapping(), batch(""));
    DH_CHECK_PROBLEM(p, ProblemType::invalid_message, "/records", "the batch has no records");
    CHECK(p.message_type == "cards");
  }
  SECTION("no list at all") {
    const Problem p = problem_of(batch_mapping(), R"({"maThongDiep": "TD-7", "ghiChu": "x"})");
    DH_CHECK_PROBLEM(p, ProblemType::invalid_message, "/records", "the batch has no records");
  }
}

TEST_CASE("batch: errors name the record, and one bad record refuses the whole message", "[mapping][batch]") {
  SECTION("a record's own field") {
    const std::string bad = R"({"maHoSo": "HS-3", "dienThoai": "12345", "maPhuong": "26740"})";
    const Problem p = problem_of(batch_mapping(), batch(std::string(kCard1) + "," + std::string(kCard2) + "," + bad));
    DH_CHECK_PROBLEM(p, ProblemType::invalid_message, "/records/2/applicant/phone", "is not a Vietnamese phone number");
    CHECK(p.errors.errors.size() == 1);
  }
  SECTION("the dossier's own validation, per record") {
    const std::string bad = R"({"maHoSo": "HS-3", "dienThoai": "0903123456", "maPhuong": "123"})";
    const Problem p = problem_of(batch_mapping(), batch(std::string(kCard1) + "," + bad));
    DH_CHECK_PROBLEM(p, ProblemType::invalid_message, "/records/1/delivery_address/ward_code",
                     "must be a 5-digit GSO ward code");
  }
  SECTION("a message-level rule that fails is reported under every record") {
    const Problem p = problem_of(batch_mapping(), batch(std::string(kCard1) + "," + std::string(kCard2), "null"));
    DH_CHECK_PROBLEM(p, ProblemType::invalid_message, "/records/0/note", "is required");
    DH_CHECK_PROBLEM(p, ProblemType::invalid_message, "/records/1/note", "is required");
    CHECK(p.errors.errors.size() == 2);
  }
  SECTION("a record that is not an object gives no values") {
    const Problem p = problem_of(batch_mapping(), batch(std::string(kCard1) + ", 42"));
    DH_CHECK_PROBLEM(p, ProblemType::invalid_message, "/records/1/dossier_code", "must not be empty");
  }
}

TEST_CASE("batch: records in XML read relative paths from the record, absolute ones from the root",
          "[mapping][batch][xml]") {
  const Mapping m = load_yaml(with_header(R"(format:
  kind: xml
  namespaces: { bh: "urn:vn:bhxh:1" }
messages:
  - type: cards
    kind: result_delivery
    fields:
      delivery_address.province_code: { const: "79" }
    records:
      each: /bh:ThongBao/bh:DanhSach/bh:The
      fields:
        dossier_code: bh:MaHoSo
        source.message_id:
          concat: { parts: [{ path: /bh:ThongBao/bh:MaThongDiep }, "#", { path: bh:MaHoSo }] }
        applicant.full_name: { path: bh:HoTen, transform: [title] }
        delivery_address.ward_code: bh:MaPhuong
        items:
          each: bh:GiayTo
          fields:
            name: .
            original: { path: "@goc", transform: [boolean], default: false }
)"));
  const std::string body =
      "<ThongBao xmlns=\"urn:vn:bhxh:1\"><MaThongDiep>BH-1</MaThongDiep><DanhSach>"
      "<The><MaHoSo>A</MaHoSo><HoTen>PHẠM THỊ HÀ</HoTen><MaPhuong>26740</MaPhuong>"
      "<GiayTo goc=\"1\">Thẻ BHYT</GiayTo><GiayTo>Tờ gấp</GiayTo></The>"
      "<The><MaHoSo>B</MaHoSo><HoTen>VŨ VĂN KHOA</HoTen><MaPhuong>26743</MaPhuong></The>"
      "</DanhSach></ThongBao>";
  const auto t = translation_of(m, body);
  REQUIRE(t.dossiers.size() == 2);
  CHECK(t.dossiers[0].source.message_id == "BH-1#A");
  CHECK(t.dossiers[1].source.message_id == "BH-1#B");
  CHECK(t.dossiers[1].applicant.full_name == "Vũ Văn Khoa");
  REQUIRE(t.dossiers[0].items.size() == 2);
  CHECK(t.dossiers[0].items[0] == Item{"Thẻ BHYT", 1, true});
  CHECK(t.dossiers[0].items[1] == Item{"Tờ gấp", 1, false});
  CHECK(t.dossiers[1].items.empty());
}

// ---------------------------------------------------------------- items

namespace {

const std::string kItems = with_header(R"(format:
  kind: json
tables:
  yes_no: { "1": true, "0": false, C: true, K: false }
messages:
  - type: t
    kind: result_delivery
    fields:
      dossier_code: /ma
      applicant.full_name: /ten
      delivery_address.line: /diaChi
      items:
        each: /giayTo
        fields:
          name: /ten
          quantity: { path: /soBan, default: 1 }
          original: { path: /banChinh, transform: [{ table: yes_no }], default: false }
)");

std::string with_items(std::string_view items) {
  return R"({"ma": "HS-1", "ten": "An", "diaChi": "1 Lê Lợi")" +
         (items.empty() ? std::string() : R"(, "giayTo": )" + std::string(items)) + "}";
}

}  // namespace

TEST_CASE("items: one item per match, with defaults", "[mapping][items]") {
  const Mapping m = load_yaml(kItems);
  const Dossier d = dossier_of(m, with_items(R"([{"ten": "Phiếu lý lịch tư pháp", "soBan": "2", "banChinh": "C"},
                                   {"ten": "Bản sao", "banChinh": "0"}, {"ten": "Biên lai", "soBan": 3}])"));
  REQUIRE(d.items.size() == 3);
  CHECK(d.items[0] == Item{"Phiếu lý lịch tư pháp", 2, true});
  CHECK(d.items[1] == Item{"Bản sao", 1, false});   // quantity defaults to 1
  CHECK(d.items[2] == Item{"Biên lai", 3, false});  // original defaults to false
}

TEST_CASE("items: an each that matches nothing omits the field", "[mapping][items]") {
  const Mapping m = load_yaml(kItems);
  CHECK(dossier_of(m, with_items("")).items.empty());
  CHECK(dossier_of(m, with_items("[]")).items.empty());
  const Dossier d = dossier_of(m, with_items("[]"));
  CHECK_FALSE(to_json(d, HubFields::omit).contains("items"));
}

TEST_CASE("items: errors name the item", "[mapping][items]") {
  const Mapping m = load_yaml(kItems);
  SECTION("a missing name") {
    const Problem p = problem_of(m, with_items(R"([{"ten": "A"}, {"soBan": 2}])"));
    DH_CHECK_PROBLEM(p, ProblemType::invalid_message, "/items/1/name", "is required");
  }
  SECTION("a quantity that is not a number") {
    const Problem p = problem_of(m, with_items(R"([{"ten": "A", "soBan": "hai"}])"));
    DH_CHECK_PROBLEM(p, ProblemType::invalid_message, "/items/0/quantity", "must be a whole number");
  }
  SECTION("a quantity out of range") {
    const Problem p = problem_of(m, with_items(R"([{"ten": "A", "soBan": 0}])"));
    DH_CHECK_PROBLEM(p, ProblemType::invalid_message, "/items/0/quantity", "must be between 1 and 10000");
  }
  SECTION("a code with no entry in the table") {
    const Problem p = problem_of(m, with_items(R"([{"ten": "A"}, {"ten": "B", "banChinh": "X"}])"));
    DH_CHECK_PROBLEM(p, ProblemType::invalid_message, "/items/1/original", "has no entry in the code table 'yes_no'");
  }
}

TEST_CASE("items: a fixed item with each: \"\" and constants", "[mapping][items]") {
  const Mapping m = load_yaml(with_header(R"(format:
  kind: json
messages:
  - type: t
    kind: result_delivery
    fields:
      dossier_code: /ma
      applicant.full_name: /ten
      delivery_address.line: /diaChi
      items:
        each: ""
        fields: { name: { const: Thẻ căn cước }, quantity: { const: 1 }, original: { const: true } }
)"));
  const Dossier d = dossier_of(m, with_items(""));
  REQUIRE(d.items.size() == 1);
  CHECK(d.items[0] == Item{"Thẻ căn cước", 1, true});
}

// ---------------------------------------------------------------- rules

namespace {

const std::string kRules = with_header(R"(format:
  kind: json
tables:
  payer: { "1": recipient, "2": agency }
messages:
  - type: t
    kind: result_delivery
    fields:
      dossier_code: /ma
      applicant.full_name: /ten
      procedure.code: { path: /maThuTuc, required: true }
      procedure.name: { path: /tenThuTuc, default: Thủ tục chung }
      fees.postage_paid_by: { path: /traCuoc, transform: [trim, { table: payer }], default: recipient }
      fees.cod_amount: { path: /phi, transform: [money], default: 0 }
      note: { path: /ghiChu, transform: [digits], default: không có số }
      delivery_address.line:
        concat: { parts: [{ path: /soNha }, { path: /duong, transform: [title] }, { path: /phuong }], separator: ", " }
      delivery_address.ward_name: { concat: { parts: ["Phường ", { path: /tenPhuong }] } }
)");

const Mapping& rules_mapping() {
  static const Mapping m = load_yaml(kRules);
  return m;
}

}  // namespace

TEST_CASE("rules: a default is used as it is, not through the transforms", "[mapping][rules]") {
  const Dossier d = dossier_of(rules_mapping(), R"({"ma": "HS-1", "ten": "An", "maThuTuc": "TT-1", "soNha": "1"})");
  CHECK(d.fees.postage_paid_by == PostagePayer::recipient);  // "recipient" is no key of the payer table
  CHECK(d.fees.cod_amount == 0);
  REQUIRE(d.procedure);
  CHECK(d.procedure->name == "Thủ tục chung");
  CHECK(d.note == "không có số");  // not "" (digits of the default)

  SECTION("a transform that gives blank text gives no value: the default") {
    const Dossier e = dossier_of(rules_mapping(),
                                 R"({"ma": "HS-1", "ten": "An", "maThuTuc": "TT-1", "soNha": "1", "ghiChu": "abc"})");
    CHECK(e.note == "không có số");
  }
  SECTION("blank source text gives no value: the default") {
    const Dossier e = dossier_of(rules_mapping(),
                                 R"({"ma": "HS-1", "ten": "An", "maThuTuc": "TT-1", "soNha": "1", "traCuoc": " \t "})");
    CHECK(e.fees.postage_paid_by == PostagePayer::recipient);
  }
  SECTION("a value goes through the transforms") {
    const Dossier e = dossier_of(
        rules_mapping(),
        R"({"ma": "HS-1", "ten": "An", "maThuTuc": "TT-1", "soNha": "1", "traCuoc": " 2 ", "phi": "25.000 đ"})");
    CHECK(e.fees.postage_paid_by == PostagePayer::agency);
    CHECK(e.fees.cod_amount == 25'000);
  }
}

TEST_CASE("rules: required fields", "[mapping][rules]") {
  SECTION("required: true") {
    const Problem p = problem_of(rules_mapping(), R"({"ma": "HS-1", "ten": "An", "soNha": "1"})");
    DH_CHECK_PROBLEM(p, ProblemType::invalid_message, "/procedure/code", "is required");
  }
  SECTION("fields the dossier requires, with no rule flag, all reported at once") {
    const Problem p = problem_of(rules_mapping(), R"({"maThuTuc": "TT-1"})");
    DH_CHECK_PROBLEM(p, ProblemType::invalid_message, "/dossier_code", "must not be empty");
    DH_CHECK_PROBLEM(p, ProblemType::invalid_message, "/applicant/full_name", "must not be empty");
    DH_CHECK_PROBLEM(p, ProblemType::invalid_message, "/delivery_address", "is required for a result_delivery dossier");
  }
  SECTION("a transform that fails is an error naming the field, with the other fields' errors") {
    const Problem p =
        problem_of(rules_mapping(), R"({"ma": "HS-1", "ten": "An", "soNha": "1", "traCuoc": "9", "phi": "1,5"})");
    DH_CHECK_PROBLEM(p, ProblemType::invalid_message, "/procedure/code", "is required");
    DH_CHECK_PROBLEM(p, ProblemType::invalid_message, "/fees/postage_paid_by",
                     "has no entry in the code table 'payer'");
    DH_CHECK_PROBLEM(p, ProblemType::invalid_message, "/fees/cod_amount", "is not a whole number of đồng");
    CHECK(p.errors.errors.size() == 3);
  }
}

TEST_CASE("rules: concat skips parts without a value, with their separator", "[mapping][rules][concat]") {
  auto line = [](std::string_view fields) {
    const Dossier d =
        dossier_of(rules_mapping(), R"({"ma": "HS-1", "ten": "An", "maThuTuc": "TT-1", )" + std::string(fields) + "}");
    return d.delivery_address ? d.delivery_address->line.value_or("(none)") : "(no address)";
  };
  CHECK(line(R"("soNha": "12", "duong": "nguyễn huệ", "phuong": "Bến Nghé")") == "12, Nguyễn Huệ, Bến Nghé");
  CHECK(line(R"("soNha": "12", "phuong": "Bến Nghé")") == "12, Bến Nghé");
  CHECK(line(R"("duong": "lê lợi", "phuong": "Bến Nghé")") == "Lê Lợi, Bến Nghé");  // no leading separator
  CHECK(line(R"("soNha": "12", "duong": null)") == "12");
  CHECK(line(R"("soNha": 12, "phuong": 26740)") == "12, 26740");  // numbers as text
  CHECK(line(R"("soNha": "", "phuong": "Bến Nghé")") == "Bến Nghé");

  SECTION("a literal alone gives no value") {
    const Dossier d = dossier_of(rules_mapping(), R"({"ma": "HS-1", "ten": "An", "maThuTuc": "TT-1", "soNha": "1"})");
    REQUIRE(d.delivery_address);
    CHECK_FALSE(d.delivery_address->ward_name);
  }
  SECTION("a literal with a value") {
    const Dossier d = dossier_of(
        rules_mapping(), R"({"ma": "HS-1", "ten": "An", "maThuTuc": "TT-1", "soNha": "1", "tenPhuong": "Bến Nghé"})");
    CHECK(d.delivery_address->ward_name == "Phường Bến Nghé");
  }
  SECTION("nothing at all gives no value") {
    const Problem p = problem_of(rules_mapping(), R"({"ma": "HS-1", "ten": "An", "maThuTuc": "TT-1"})");
    DH_CHECK_PROBLEM(p, ProblemType::invalid_message, "/delivery_address", "is required for a result_delivery dossier");
  }
  SECTION("an object in a part is an error naming the field") {
    const Problem p =
        problem_of(rules_mapping(), R"({"ma": "HS-1", "ten": "An", "maThuTuc": "TT-1", "soNha": {"so": 1}})");
    DH_CHECK_PROBLEM(p, ProblemType::invalid_message, "/delivery_address/line",
                     "is an object where a value is expected");
  }
}

TEST_CASE("concat: a whitespace-only part is skipped with its separator (JSON)",
          "[mapping][rules][concat][regression]") {
  // docs: "A value that is empty or whitespace only counts as no value" and "parts without a value
  // are skipped". evaluate() skips only parts whose read gave no value; "   " is a value, so the
  // line becomes "12,    , Bến Nghé". (XML hides this: pugixml drops whitespace-only text.)
  const Dossier d = dossier_of(
      rules_mapping(),
      R"({"ma": "HS-1", "ten": "An", "maThuTuc": "TT-1", "soNha": "12", "duong": "   ", "phuong": "Bến Nghé"})");
  REQUIRE(d.delivery_address);
  CHECK(d.delivery_address->line == "12, Bến Nghé");
}

TEST_CASE("rules: values are converted to the field's type strictly", "[mapping][rules]") {
  const Mapping m = load_yaml(with_header(R"(format:
  kind: json
messages:
  - type: t
    kind: result_delivery
    fields:
      dossier_code: /ma
      applicant.full_name: /ten
      delivery_address.line: /diaChi
      fees.cod_amount: /phi
      fees.postage_paid_by: /traCuoc
      dates.ready_at: /ngay
      dates.due_at: { path: /han, transform: [{ date: dd/MM/yyyy }] }
      note: { path: /han, transform: [{ date: dd/MM/yyyy }] }
)"));
  auto msg = [](std::string_view extra) {
    return R"({"ma": "HS-1", "ten": "An", "diaChi": "1 Lê Lợi")" + std::string(extra) + "}";
  };
  SECTION("an integer field takes an integer or plain decimal text") {
    CHECK(dossier_of(m, msg(R"(, "phi": 25000)")).fees.cod_amount == 25'000);
    CHECK(dossier_of(m, msg(R"(, "phi": " 25000 ")")).fees.cod_amount == 25'000);
    DH_CHECK_PROBLEM(problem_of(m, msg(R"(, "phi": "25.000")")), ProblemType::invalid_message, "/fees/cod_amount",
                     "must be a whole number");
    DH_CHECK_PROBLEM(problem_of(m, msg(R"(, "phi": true)")), ProblemType::invalid_message, "/fees/cod_amount",
                     "must be a whole number");
  }
  SECTION("a time field takes RFC 3339 text with an offset") {
    const Dossier d = dossier_of(m, msg(R"(, "ngay": "2025-01-15T08:30:00+07:00")"));
    CHECK(d.dates.ready_at->to_rfc3339() == "2025-01-15T08:30:00+07:00");
    DH_CHECK_PROBLEM(problem_of(m, msg(R"(, "ngay": "15/01/2025")")), ProblemType::invalid_message, "/dates/ready_at",
                     "must be a time (use the date transform)");
    DH_CHECK_PROBLEM(problem_of(m, msg(R"(, "ngay": "2025-01-15T08:30:00")")), ProblemType::invalid_message,
                     "/dates/ready_at", "must be a time");
  }
  SECTION("the payer is recipient or agency") {
    CHECK(dossier_of(m, msg(R"(, "traCuoc": "agency")")).fees.postage_paid_by == PostagePayer::agency);
    DH_CHECK_PROBLEM(problem_of(m, msg(R"(, "traCuoc": "1")")), ProblemType::invalid_message, "/fees/postage_paid_by",
                     "must be recipient or agency");
  }
  SECTION("a time is not text") {
    const Problem p = problem_of(m, msg(R"(, "han": "20/01/2025")"));
    DH_CHECK_PROBLEM(p, ProblemType::invalid_message, "/note", "must be text, got a time");
    CHECK(error_at(p, "/dates/due_at") == nullptr);
  }
}

// ---------------------------------------------------------------- organs

namespace {

const std::string kOrgans = R"(mapping: dossier-hub/mapping/v1
agency:
  name: Cổng dịch vụ công phường
  organs:
    "000.00.01.H29": UBND Phường Bến Nghé
    "000.00.02.H29": UBND Phường Bến Thành
identity: { san_dns: lgsp.example.gov.vn, issuer: "CN=Test CA" }
format:
  kind: json
messages:
  - type: t
    kind: result_delivery
    fields:
      agency.organ_id: /maCoQuan
      dossier_code: /ma
      applicant.full_name: /ten
      delivery_address.line: /diaChi
)";

std::string from_organ(std::string_view organ_json) {
  return R"({"maCoQuan": )" + std::string(organ_json) + R"(, "ma": "HS-1", "ten": "An", "diaChi": "1 Lê Lợi"})";
}

}  // namespace

TEST_CASE("organs: the organ id must be one of agency.organs, and names the dossier's agency", "[mapping][organs]") {
  const Mapping m = load_yaml(kOrgans, "/tmp/x/hcm-ward-gateway.yaml");
  SECTION("a listed organ gives its own name") {
    const Dossier d = dossier_of(m, from_organ(R"("000.00.02.H29")"));
    CHECK(d.agency.id == "hcm-ward-gateway");
    CHECK(d.agency.organ_id == "000.00.02.H29");
    CHECK(d.agency.name == "UBND Phường Bến Thành");
  }
  SECTION("spaces around the id are trimmed") {
    CHECK(dossier_of(m, from_organ(R"(" 000.00.01.H29 ")")).agency.name == "UBND Phường Bến Nghé");
  }
  SECTION("an organ it may not speak for") {
    const Problem p = problem_of(m, from_organ(R"("000.00.99.H29")"));
    DH_CHECK_PROBLEM(p, ProblemType::invalid_message, "/agency/organ_id", "is not an organ this partner may speak for");
    CHECK_FALSE(any_reason_contains(p, "99"));
  }
  SECTION("no organ, and several to choose from") {
    const Problem p = problem_of(m, from_organ("null"));
    DH_CHECK_PROBLEM(p, ProblemType::invalid_message, "/agency/organ_id",
                     "is required: this partner speaks for several organs");
  }
  SECTION("an agency.name rule wins over the organ's name") {
    const Mapping named = load_yaml(kOrgans + "      agency.name: { const: Trung tâm Phục vụ hành chính công }\n",
                                    "/tmp/x/hcm-ward-gateway.yaml");
    const Dossier d = dossier_of(named, from_organ(R"("000.00.01.H29")"));
    CHECK(d.agency.name == "Trung tâm Phục vụ hành chính công");
  }
}

TEST_CASE("organs: a single organ is the default, with its own name", "[mapping][organs]") {
  const Mapping m = load_yaml(kTypes);
  const Dossier d = dossier_of(m, typed(R"("KQ")"));
  CHECK(d.agency.organ_id == "000.00.12.H29");
  CHECK(d.agency.name == "Sở Ví dụ Một Cửa");  // the organ's name, not agency.name
  SECTION("and a message naming another organ is still refused") {
    const Mapping with_rule = load_yaml(with_header(R"(format:
  kind: json
messages:
  - type: t
    kind: result_delivery
    fields: { agency.organ_id: /coQuan, dossier_code: /ma, applicant.full_name: /ten, delivery_address.line: /diaChi }
)"));
    const Problem p = problem_of(with_rule, typed(R"("KQ")", R"(, "coQuan": "000.00.13.H29")"));
    DH_CHECK_PROBLEM(p, ProblemType::invalid_message, "/agency/organ_id", "is not an organ this partner may speak for");
  }
}

// ---------------------------------------------------------------- Unicode

TEST_CASE("unicode: decomposed (NFD) input comes out composed (NFC)", "[mapping][unicode]") {
  const std::string nfd_name = "Nguye\xCC\x82\xCC\x83n Thi\xCC\xA3 Ma\xCC\x80i";  // Nguyễn Thị Mài, decomposed
  SECTION("json") {
    const Mapping m = load_yaml(kTypes);
    const Dossier d =
        dossier_of(m, typed(R"("KQ")").replace(typed(R"("KQ")").find("\"An\""), 4, "\"" + nfd_name + "\""));
    CHECK(d.applicant.full_name == "Nguyễn Thị Mài");
    CHECK(text::is_nfc(d.applicant.full_name));
  }
  SECTION("xml, through title") {
    const Mapping m = load_yaml(with_header(R"(format:
  kind: xml
messages:
  - type: t
    kind: result_delivery
    fields:
      dossier_code: /A/Ma
      applicant.full_name: { path: /A/Ten, transform: [nfc, upper] }
      delivery_address.line: /A/DiaChi
)"));
    const Dossier d = dossier_of(
        m, "<A><Ma>HS-1</Ma><Ten>" + nfd_name + "</Ten><DiaChi>Pho\xCC\x82\xCC\x81 Hue\xCC\x82\xCC\x81</DiaChi></A>");
    CHECK(d.applicant.full_name == "NGUYỄN THỊ MÀI");
    CHECK(d.delivery_address->line == "Phố Huế");
  }
}

// ---------------------------------------------------------------- problems

TEST_CASE("problem: the RFC 9457 body lists every error", "[mapping][problem]") {
  const Problem p = problem_of(rules_mapping(), R"({"ma": "HS-1", "ten": "An", "soNha": "1", "phi": "abc"})");
  const json::object o = mapping::to_json(p);
  CHECK(o.at("type") == "urn:dossier-hub:problem:invalid-message");
  CHECK(o.at("title") == "The message does not map to a valid dossier");
  CHECK(o.at("status") == 422);
  CHECK(o.at("message_type") == "t");
  const json::array& errors = o.at("errors").as_array();
  REQUIRE(errors.size() == 2);
  CHECK(errors[0].at("path") == "/procedure/code");
  CHECK(errors[0].at("reason") == "is required");
  CHECK(errors[1].at("path") == "/fees/cod_amount");

  const json::object malformed = mapping::to_json(problem_of(rules_mapping(), "{"));
  CHECK(malformed.at("type") == "urn:dossier-hub:problem:malformed-message");
  CHECK(malformed.at("status") == 400);
  CHECK_FALSE(malformed.contains("message_type"));
}

TEST_CASE("mapping: translate is safe to call from several threads at once", "[mapping]") {
  const Mapping& m = batch_mapping();
  const std::string body = batch(std::string(kCard1) + "," + std::string(kCard2));
  const auto expected = translation_of(m, body).dossiers;
  std::vector<int> ok(4, 0);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < ok.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        auto r = m.translate(body);
        if (r && r->dossiers == expected) ++ok[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int n : ok) CHECK(n == 200);
}

// ---------------------------------------------------------------- callbacks

namespace {

const std::string kXmlCallback = with_header(R"(format:
  kind: xml
  namespaces: { tp: "urn:vn:hcm:stp:bcci:1", q: "urn:q:1" }
tables:
  status_out: { ordered: "02", delivered: "05", delivery_failed: 6, returned: "07" }
messages:
  - type: t
    kind: result_delivery
    fields: { dossier_code: /tp:A/tp:Ma, applicant.full_name: /tp:A/tp:Ten, delivery_address.line: /tp:A/tp:DiaChi }
callback:
  url: https://stp.example.gov.vn/bcci/status
  statuses: [ordered, delivered, delivery_failed, returned]
  root: tp:CapNhatTrangThai
  fields:
    "@phienBan": { const: "1.0" }
    tp:MaHoSo: dossier_code
    tp:TrangThai: { from: status, transform: [{ table: status_out }] }
    tp:ThoiGian: { from: event.time, date: "dd/MM/yyyy HH:mm:ss" }
    tp:BuuGui/@q:loai: { const: EMS }
    tp:BuuGui/tp:Ma: item_code
    tp:BuuGui/tp:BuuCuc: post_office
    tp:LyDo: event.reason
    tp:Luc: event.time
)");

mapping::StatusReport report() {
  mapping::StatusReport r;
  r.status = "delivered";
  r.dossier_code = "000.00.12.H29-250115-0042";
  r.item_code = "EB123456789VN";
  r.event_time = *Timestamp::from_civil(2025, 1, 15, 1, 30, 5, 0, 0);  // 08:30:05 in Việt Nam
  return r;
}

// Reads a callback body of kXmlCallback back with the hub's own XML reader, the SOAP one when `soap`.
Mapping callback_reader(bool soap) {
  return load_yaml(with_header(std::string("format:\n  kind: xml\n") + (soap ? "  soap: true\n" : "") +
                               R"(  namespaces: { x: "urn:vn:hcm:stp:bcci:1" }
messages:
  - type: echo
    kind: result_delivery
    fields:
      dossier_code: /x:CapNhatTrangThai/x:MaHoSo
      applicant.full_name: /x:CapNhatTrangThai/x:LyDo
      delivery_address.line: /x:CapNhatTrangThai/x:BuuGui/x:Ma
      procedure.code: /x:CapNhatTrangThai/x:BuuGui/@*
)"));
}

}  // namespace

TEST_CASE("callback: xml renders the agency's body, namespaces declared on the root", "[mapping][callback]") {
  const Mapping m = load_yaml(kXmlCallback);
  mapping::StatusReport r = report();
  r.reason = "Người nhận <vắng> & \"đi xa\"";
  auto out = m.render_callback(r);
  REQUIRE(out.has_value());
  CHECK(out->url == "https://stp.example.gov.vn/bcci/status");
  CHECK(out->content_type == "application/xml; charset=utf-8");
  const std::string& b = out->body;
  INFO(b);
  CHECK_THAT(b, Catch::Matchers::StartsWith("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
  CHECK_THAT(b, Catch::Matchers::Contains("<tp:CapNhatTrangThai phienBan=\"1.0\""));
  CHECK_THAT(b, Catch::Matchers::Contains("xmlns:tp=\"urn:vn:hcm:stp:bcci:1\""));
  CHECK_THAT(b, Catch::Matchers::Contains("xmlns:q=\"urn:q:1\""));
  CHECK_THAT(b, Catch::Matchers::Contains("<tp:MaHoSo>000.00.12.H29-250115-0042</tp:MaHoSo>"));
  CHECK_THAT(b, Catch::Matchers::Contains("<tp:TrangThai>05</tp:TrangThai>"));
  CHECK_THAT(b, Catch::Matchers::Contains("<tp:ThoiGian>15/01/2025 08:30:05</tp:ThoiGian>"));
  CHECK_THAT(b, Catch::Matchers::Contains("<tp:BuuGui q:loai=\"EMS\">"));
  CHECK_THAT(b, Catch::Matchers::Contains("<tp:Ma>EB123456789VN</tp:Ma>"));
  CHECK_THAT(b, Catch::Matchers::Contains("<tp:LyDo>Người nhận &lt;vắng&gt; &amp; \"đi xa\"</tp:LyDo>"));
  CHECK_THAT(b, Catch::Matchers::Contains("<tp:Luc>2025-01-15T08:30:05+07:00</tp:Luc>"));
  CHECK_THAT(b, !Catch::Matchers::Contains("BuuCuc"));  // no post office: left out
  // One BuuGui element holds both of its children.
  CHECK(b.find("<tp:BuuGui") == b.rfind("<tp:BuuGui"));

  SECTION("the body parses back as namespace-well-formed XML with the same dossier code") {
    const Dossier d = dossier_of(callback_reader(false), b);
    CHECK(d.dossier_code == "000.00.12.H29-250115-0042");
    CHECK(d.applicant.full_name == "Người nhận <vắng> & \"đi xa\"");
    CHECK(d.procedure->code == "EMS");
  }
  SECTION("an integer from the table is written as text") {
    r.status = "delivery_failed";
    auto failed = m.render_callback(r);
    REQUIRE(failed.has_value());
    CHECK_THAT(failed->body, Catch::Matchers::Contains("<tp:TrangThai>6</tp:TrangThai>"));
  }
}

TEST_CASE("callback: a SOAP agency gets its body in an envelope, with the action SOAP asks for",
          "[mapping][callback]") {
  const std::string url = "  url: https://stp.example.gov.vn/bcci/status\n";
  auto soap = [&](const std::string& lines,
                  const std::string& namespaces = "{ tp: \"urn:vn:hcm:stp:bcci:1\", q: \"urn:q:1\" }") {
    std::string y = kXmlCallback;
    y.replace(y.find(url), url.size(), url + lines);
    const std::string ns = "{ tp: \"urn:vn:hcm:stp:bcci:1\", q: \"urn:q:1\" }";
    y.replace(y.find(ns), ns.size(), namespaces);
    return load_yaml(y);
  };
  SECTION("SOAP 1.1: text/xml and a SOAPAction header") {
    const Mapping m = soap("  soap: \"1.1\"\n  soap_action: \"urn:vn:hcm:stp#CapNhat\"\n");
    mapping::StatusReport r = report();
    r.reason = "Người nhận vắng nhà";
    auto out = m.render_callback(r);
    REQUIRE(out.has_value());
    CHECK(out->content_type == "text/xml; charset=utf-8");
    CHECK(out->headers ==
          std::vector<std::pair<std::string, std::string>>{{"SOAPAction", "\"urn:vn:hcm:stp#CapNhat\""}});
    CHECK(m.callback_headers() == out->headers);
    INFO(out->body);
    CHECK_THAT(out->body,
               Catch::Matchers::Contains(
                   "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\">\n  <soap:Body>\n"
                   "    <tp:CapNhatTrangThai phienBan=\"1.0\""));
    // What the agency's SOAP stack reads: the hub's own SOAP reader takes the Body's element.
    const Dossier d = dossier_of(callback_reader(true), out->body);
    CHECK(d.dossier_code == "000.00.12.H29-250115-0042");
    CHECK(d.applicant.full_name == "Người nhận vắng nhà");
  }
  SECTION("SOAP 1.1 without an action: an empty SOAPAction, as SOAP 1.1 requires the header") {
    const Mapping m = soap("  soap: \"1.1\"\n");
    auto out = m.render_callback(report());
    REQUIRE(out.has_value());
    CHECK(out->headers == std::vector<std::pair<std::string, std::string>>{{"SOAPAction", "\"\""}});
  }
  SECTION("SOAP 1.2: the action is a parameter of application/soap+xml, no header") {
    const Mapping m = soap("  soap: \"1.2\"\n  soap_action: \"urn:vn:hcm:stp#CapNhat\"\n");
    auto out = m.render_callback(report());
    REQUIRE(out.has_value());
    CHECK(out->content_type == "application/soap+xml; charset=utf-8; action=\"urn:vn:hcm:stp#CapNhat\"");
    CHECK(out->headers.empty());
    CHECK_THAT(out->body,
               Catch::Matchers::Contains("<soap:Envelope xmlns:soap=\"http://www.w3.org/2003/05/soap-envelope\">"));
  }
  SECTION("the envelope takes the mapping's own prefix for its namespace, and never one the mapping uses") {
    auto own =
        soap("  soap: \"1.1\"\n",
             "{ tp: \"urn:vn:hcm:stp:bcci:1\", q: \"urn:q:1\", se: \"http://schemas.xmlsoap.org/soap/envelope/\" }")
            .render_callback(report());
    REQUIRE(own.has_value());
    CHECK_THAT(own->body,
               Catch::Matchers::Contains("<se:Envelope xmlns:se=\"http://schemas.xmlsoap.org/soap/envelope/\">"));
    auto taken = soap("  soap: \"1.1\"\n", "{ tp: \"urn:vn:hcm:stp:bcci:1\", q: \"urn:q:1\", soap: \"urn:not-soap\" }")
                     .render_callback(report());
    REQUIRE(taken.has_value());
    CHECK_THAT(taken->body, Catch::Matchers::Contains(
                                "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">"));
  }
  SECTION("without soap: plain XML, no extra header") {
    const Mapping m = load_yaml(kXmlCallback);
    CHECK(m.callback_headers().empty());
    CHECK(m.render_callback(report())->headers.empty());
  }
}

TEST_CASE("callback: json renders nested pointers and keeps a table's integers as numbers", "[mapping][callback]") {
  const Mapping m = load_yaml(with_header(R"(format:
  kind: json
tables:
  st: { ordered: "2", delivered: 5, delivery_failed: 6, returned: "7" }
messages:
  - type: t
    kind: result_delivery
    fields: { dossier_code: /ma, applicant.full_name: /ten, delivery_address.line: /diaChi }
callback:
  url: https://motcua.example.gov.vn/api/bcci
  statuses: [ordered, delivered, delivery_failed, returned]
  fields:
    /maThongDiep: event.id
    /loaiThongDiep: { const: CAP_NHAT_TRANG_THAI }
    /data/maHoSo: dossier_code
    /data/trangThai: { from: status, transform: [{ table: st }] }
    /data/thoiGian: { from: event.time, date: "dd/MM/yyyy HH:mm" }
    /data/chiTiet/buuCuc: post_office
    /data/chiTiet/lyDo: event.reason
    /a~1b/c~0d: hub_id
    /luc: event.time
)"));
  mapping::StatusReport r = report();
  r.event_id = "EV-1";
  r.post_office = "700000";
  r.hub_id = "01JH000000000000000000000";
  auto out = m.render_callback(r);
  REQUIRE(out.has_value());
  CHECK(out->content_type == "application/json");
  CHECK(out->url == "https://motcua.example.gov.vn/api/bcci");
  const json::value v = json::parse(out->body);
  INFO(out->body);
  CHECK(v.at("maThongDiep") == "EV-1");
  CHECK(v.at("loaiThongDiep") == "CAP_NHAT_TRANG_THAI");
  CHECK(v.at("data").at("maHoSo") == "000.00.12.H29-250115-0042");
  CHECK(v.at("data").at("trangThai").is_int64());
  CHECK(v.at("data").at("trangThai") == 5);
  CHECK(v.at("data").at("thoiGian") == "15/01/2025 08:30");
  CHECK(v.at("data").at("chiTiet").at("buuCuc") == "700000");
  CHECK_FALSE(v.at("data").at("chiTiet").as_object().contains("lyDo"));  // no reason: left out
  CHECK(v.at("a/b").at("c~d") == "01JH000000000000000000000");
  CHECK(v.at("luc") == "2025-01-15T08:30:05+07:00");

  SECTION("a text from the table stays text") {
    r.status = "returned";
    auto returned = m.render_callback(r);
    REQUIRE(returned.has_value());
    const json::value w = json::parse(returned->body);
    CHECK(w.at("data").at("trangThai").is_string());
    CHECK(w.at("data").at("trangThai") == "7");
  }
  SECTION("a time in another offset is written in +07:00") {
    r.event_time = *Timestamp::from_civil(2025, 1, 15, 20, 0, 0, 0, -300);  // 01:00Z on the 16th
    const json::value w = json::parse(m.render_callback(r)->body);
    CHECK(w.at("luc") == "2025-01-16T08:00:00+07:00");
    CHECK(w.at("data").at("thoiGian") == "16/01/2025 08:00");
  }
}

TEST_CASE("callback: reports() is true only for the statuses listed", "[mapping][callback]") {
  const Mapping m = load_yaml(kXmlCallback);
  CHECK(m.reports("delivered"));
  CHECK(m.reports("returned"));
  CHECK_FALSE(m.reports("accepted"));
  CHECK_FALSE(m.reports("in_transit"));
  CHECK_FALSE(m.reports("Delivered"));
  CHECK_FALSE(m.reports(""));

  const Mapping none = load_yaml(kTypes);
  CHECK_FALSE(none.has_callback());
  CHECK_FALSE(none.reports("delivered"));
  auto out = none.render_callback(report());
  REQUIRE_FALSE(out.has_value());
  CHECK(out.error().message == "the mapping has no callback section");
}

TEST_CASE("callback: a json callback for an xml agency", "[mapping][callback]") {
  const Mapping m = load_yaml(with_header(R"(format:
  kind: xml
  soap: true
messages:
  - type: t
    kind: result_delivery
    fields: { dossier_code: /A/Ma, applicant.full_name: /A/Ten, delivery_address.line: /A/DiaChi }
callback:
  url: https://x.example.gov.vn/cb
  format: json
  statuses: [delivered]
  fields: { /ma: dossier_code, /trangThai: status }
)"));
  auto out = m.render_callback(report());
  REQUIRE(out.has_value());
  CHECK(out->content_type == "application/json");
  CHECK(json::parse(out->body) == json::parse(R"({"ma": "000.00.12.H29-250115-0042", "trangThai": "delivered"})"));
}

// ---------------------------------------------------------------- regressions: bugs these tests found, now fixed

TEST_CASE("batch: every record's validation errors are reported, not only the first failing record's",
          "[mapping][batch][regression]") {
  // Evaluator::finish returns early when `errors` is not empty ("validation would repeat what is
  // already reported"), but in a batch `errors` also holds the earlier records' errors. Record 1's
  // bad ward code is never reported, against "every failing field is reported".
  const std::string bad0 = R"({"maHoSo": "HS-1", "dienThoai": "12345", "maPhuong": "26740"})";
  const std::string bad1 = R"({"maHoSo": "HS-2", "dienThoai": "0903123456", "maPhuong": "123"})";
  const Problem p = problem_of(batch_mapping(), batch(bad0 + "," + bad1));
  CHECK(error_at(p, "/records/0/applicant/phone") != nullptr);
  CHECK(error_at(p, "/records/1/delivery_address/ward_code") != nullptr);
}

TEST_CASE("items: an each that points at null gives no items", "[mapping][items][regression]") {
  // docs: "null anywhere along a JSON path gives no value" and "an each that matches nothing gives no
  // items". Pointer::all() pushes any non-array value as one element, null included, so
  // {"giayTo": null} gives an item with no name: "/items/0/name: is required".
  const Mapping m = load_yaml(kItems);
  CHECK(m.translate(with_items("null")).has_value());
}
