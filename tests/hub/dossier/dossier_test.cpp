#include "hub/dossier/dossier.hpp"

#include "tests/support/print.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <valijson/adapters/boost_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validator.hpp>

#include <fstream>
#include <sstream>

using namespace dh;
namespace json = boost::json;

namespace {

Dossier sample_dossier() {
  Dossier d;
  d.kind = DossierKind::result_delivery;
  d.agency = {"hcm-justice", "000.00.12.H29", "Sở Tư pháp Thành phố Hồ Chí Minh"};
  d.dossier_code = "000.00.12.H29-250115-0042";
  d.procedure = Procedure{"1.001234.000.00.00.H29", "Cấp Phiếu lý lịch tư pháp"};
  d.applicant = {"Nguyễn Thị Mai", "079301004512", "+84903123456", "mai.nguyen@example.vn"};
  d.delivery_address = Address{"12 Nguyễn Huệ",         "26740",      "Phường Bến Nghé", "760", "Quận 1", "79",
                               "Thành phố Hồ Chí Minh", std::nullopt, std::nullopt};
  d.pickup_address =
      Address{"141-143 Pasteur",       "26743",      "Phường Bến Thành", std::nullopt, std::nullopt, "79",
              "Thành phố Hồ Chí Minh", std::nullopt, std::nullopt};
  d.items = {{"Phiếu lý lịch tư pháp số 1", 2, true}};
  d.fees = {25'000, PostagePayer::recipient};
  d.dates.ready_at = Timestamp::from_civil(2025, 1, 15, 8, 30, 0, 0, kVietnamOffsetMinutes);
  d.dates.due_at = Timestamp::from_civil(2025, 1, 20, 17, 0, 0, 0, kVietnamOffsetMinutes);
  d.note = "Gọi trước khi giao";
  d.source = {"STP-2025-000042", SourceFormat::xml, std::nullopt};
  return d;
}

json::value load_json_file(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

// Validates against docs/dossier-v1.schema.json; returns the validator's messages.
std::vector<std::string> schema_errors(const json::value& doc) {
  static const json::value schema_doc = load_json_file(DH_SOURCE_DIR "/docs/dossier-v1.schema.json");
  static const std::unique_ptr<valijson::Schema> schema = [] {
    auto s = std::make_unique<valijson::Schema>();
    valijson::SchemaParser parser;
    valijson::adapters::BoostJsonAdapter adapter(schema_doc);
    parser.populateSchema(adapter, *s);
    return s;
  }();
  valijson::Validator validator;
  valijson::ValidationResults results;
  valijson::adapters::BoostJsonAdapter target(doc);
  std::vector<std::string> out;
  if (!validator.validate(*schema, target, &results)) {
    valijson::ValidationResults::Error e;
    while (results.popError(e)) {
      std::string ctx;
      for (const auto& c : e.context) ctx += c;
      out.push_back(ctx + ": " + e.description);
    }
  }
  return out;
}

bool has_null(const json::value& v) {
  if (v.is_null()) return true;
  if (const auto* o = v.if_object()) {
    for (const auto& kv : *o)
      if (has_null(kv.value())) return true;
  }
  if (const auto* a = v.if_array()) {
    for (const auto& e : *a)
      if (has_null(e)) return true;
  }
  return false;
}

bool has_error(const FieldErrors& e, std::string_view path) {
  for (const auto& fe : e.errors)
    if (fe.path == path) return true;
  return false;
}

}  // namespace

TEST_CASE("a dossier survives a JSON round trip unchanged", "[dossier]") {
  Dossier d = sample_dossier();
  d.hub_id = "01JHK3Z8Q4M2W7X9V5T6R1N0PB";
  d.received_at = Timestamp::parse_rfc3339("2025-01-15T08:31:02.125+07:00");
  d.status = "accepted";
  d.route = "700000";
  d.source.sha256 = std::string(64, 'a');
  const json::value written = to_json(d);
  auto back = dossier_from_json(written);
  REQUIRE(back.has_value());
  CHECK(*back == d);
  CHECK(json::serialize(to_json(*back)) == json::serialize(written));
}

TEST_CASE("written dossiers are valid against the published JSON Schema", "[dossier][schema]") {
  Dossier full = sample_dossier();
  Dossier minimal;
  minimal.kind = DossierKind::dossier_pickup;
  minimal.agency = {"hcm-ward-lgsp", "000.00.21.H29", "UBND Phường Sài Gòn"};
  minimal.dossier_code = "000.00.21.H29-250702-0001";
  minimal.applicant.full_name = "Lê Văn Tám";
  minimal.pickup_address = Address{};
  minimal.pickup_address->ward_code = "26734";
  minimal.source.format = SourceFormat::json;
  for (const Dossier* d : {&full, &minimal}) {
    REQUIRE(validate(*d).empty());
    for (auto hub : {HubFields::include, HubFields::omit}) {
      const auto errors = schema_errors(to_json(*d, hub));
      INFO((errors.empty() ? "" : errors.front()));
      CHECK(errors.empty());
    }
  }
}

TEST_CASE("the schema refuses what the contract forbids", "[dossier][schema]") {
  json::object o = to_json(sample_dossier(), HubFields::omit);
  SECTION("null instead of omitted") {
    o["note"] = nullptr;
  }
  SECTION("money as a fraction") {
    o["fees"].as_object()["cod_amount"] = 25000.5;
  }
  SECTION("code as a number") {
    o["delivery_address"].as_object()["ward_code"] = 26740;
  }
  SECTION("time without offset") {
    o["dates"].as_object()["ready_at"] = "2025-01-15T08:30:00";
  }
  SECTION("unknown field") {
    o["extra"] = "x";
  }
  SECTION("phone not E.164") {
    o["applicant"].as_object()["phone"] = "0903123456";
  }
  SECTION("result without a delivery address") {
    o.erase("delivery_address");
  }
  CHECK_FALSE(schema_errors(o).empty());
  CHECK_FALSE(dossier_from_json(o).has_value());
}

TEST_CASE("optional fields without a value are omitted, never null", "[dossier]") {
  Dossier d = sample_dossier();
  d.procedure->name.reset();
  d.applicant.email.reset();
  d.recipient.reset();
  d.items.clear();
  d.note.reset();
  d.dates = {};
  d.fees.postage_paid_by.reset();
  const json::object o = to_json(d);
  CHECK_FALSE(has_null(o));
  CHECK_FALSE(o.at("procedure").as_object().contains("name"));
  CHECK_FALSE(o.at("applicant").as_object().contains("email"));
  CHECK_FALSE(o.contains("recipient"));
  CHECK_FALSE(o.contains("items"));
  CHECK_FALSE(o.contains("note"));
  CHECK_FALSE(o.contains("dates"));
  CHECK_FALSE(o.at("fees").as_object().contains("postage_paid_by"));
  CHECK_FALSE(o.contains("hub_id"));
  CHECK(o.at("fees").at("cod_amount") == 25'000);  // 0 or not, money is always present
}

TEST_CASE("hub-assigned fields can be left out for deterministic output", "[dossier]") {
  Dossier d = sample_dossier();
  d.hub_id = "01JHK3Z8Q4M2W7X9V5T6R1N0PB";
  d.status = "accepted";
  d.route = "700000";
  d.received_at = Timestamp::parse_rfc3339("2025-01-15T08:31:02+07:00");
  d.source.sha256 = std::string(64, 'b');
  const json::object o = to_json(d, HubFields::omit);
  for (const char* k : {"hub_id", "status", "route", "received_at"}) CHECK_FALSE(o.contains(k));
  CHECK_FALSE(o.at("source").as_object().contains("sha256"));
}

TEST_CASE("codes stay strings with their leading zeros", "[dossier]") {
  Dossier d = sample_dossier();
  d.delivery_address->province_code = "01";
  d.delivery_address->district_code = "001";
  d.delivery_address->ward_code = "00004";
  const json::value v = to_json(d);
  const auto& a = v.at("delivery_address");
  CHECK(a.at("province_code") == "01");
  CHECK(a.at("district_code") == "001");
  CHECK(a.at("ward_code") == "00004");
  auto back = dossier_from_json(v);
  REQUIRE(back);
  CHECK(back->delivery_address->ward_code == "00004");
  // A code written as a JSON number is refused: its leading zeros are already lost.
  json::value bad = v;
  bad.at("delivery_address").as_object()["province_code"] = 1;
  auto r = dossier_from_json(bad);
  REQUIRE_FALSE(r);
  CHECK(has_error(r.error(), "/delivery_address/province_code"));
}

TEST_CASE("text is normalised to NFC when read", "[dossier]") {
  json::value v = to_json(sample_dossier());
  v.at("applicant").as_object()["full_name"] = "Nguye\xCC\x82\xCC\x83n Thi\xCC\xA3 Mai";  // NFD
  auto d = dossier_from_json(v);
  REQUIRE(d);
  CHECK(d->applicant.full_name == "Nguyễn Thị Mai");
  CHECK(json::serialize(to_json(*d).at("applicant").at("full_name")) == "\"Nguyễn Thị Mai\"");
  // And the validator refuses NFD text in a dossier built in code.
  Dossier raw = sample_dossier();
  raw.note = "Go\xCC\xA3i tru\xCC\x9B\xCC\x81\x6F\xCC\x9B\xCC\x81\x63";
  CHECK(has_error(validate(raw), "/note"));
}

TEST_CASE("times are written as RFC 3339 with their offset", "[dossier]") {
  const json::value v = to_json(sample_dossier());
  CHECK(v.at("dates").at("ready_at") == "2025-01-15T08:30:00+07:00");
  CHECK(v.at("dates").at("due_at") == "2025-01-20T17:00:00+07:00");
  json::value bad = v;
  bad.at("dates").as_object()["due_at"] = "20/01/2025";
  auto r = dossier_from_json(bad);
  REQUIRE_FALSE(r);
  CHECK(has_error(r.error(), "/dates/due_at"));
}

TEST_CASE("money is an integer number of đồng", "[dossier]") {
  const json::value v = to_json(sample_dossier());
  CHECK(v.at("fees").at("cod_amount").is_int64());
  for (json::value bad_amount :
       {json::value(25000.0), json::value("25000"), json::value(-1), json::value(kMaxCodAmount + 1)}) {
    json::value bad = v;
    bad.at("fees").as_object()["cod_amount"] = bad_amount;
    auto r = dossier_from_json(bad);
    REQUIRE_FALSE(r);
    CHECK(has_error(r.error(), "/fees/cod_amount"));
  }
}

TEST_CASE("strict reading names every failing field", "[dossier]") {
  json::value v = to_json(sample_dossier());
  auto& o = v.as_object();
  o["colour"] = "blue";
  o.erase("dossier_code");
  o["kind"] = "parcel";
  o.at("applicant").as_object()["id_number"] = "07930100451";  // 11 digits
  o.at("items").as_array()[0].as_object()["quantity"] = 0;
  o.at("source").as_object()["message_id"] = nullptr;
  auto r = dossier_from_json(v);
  REQUIRE_FALSE(r);
  const auto& e = r.error();
  CHECK(has_error(e, "/colour"));
  CHECK(has_error(e, "/dossier_code"));
  CHECK(has_error(e, "/kind"));
  CHECK(has_error(e, "/source/message_id"));
  // Shape checks run once the structure is sound.
  json::value v2 = to_json(sample_dossier());
  v2.at("applicant").as_object()["id_number"] = "07930100451";
  v2.at("items").as_array()[0].as_object()["quantity"] = 0;
  v2.at("applicant").as_object()["full_name"] = "   ";
  auto r2 = dossier_from_json(v2);
  REQUIRE_FALSE(r2);
  CHECK(has_error(r2.error(), "/applicant/id_number"));
  CHECK(has_error(r2.error(), "/items/0/quantity"));
  CHECK(has_error(r2.error(), "/applicant/full_name"));
}

TEST_CASE("pretty JSON is stable and readable", "[dossier]") {
  json::value v = json::parse(R"({"a":1,"b":[true,{"c":"Đ"}],"d":{},"e":[]})");
  CHECK(to_pretty_json(v) ==
        "{\n  \"a\": 1,\n  \"b\": [\n    true,\n    {\n      \"c\": \"Đ\"\n    }\n  ],\n"
        "  \"d\": {},\n  \"e\": []\n}\n");
}
