// The canonical dossier, `dossier/v1` (docs/dossier.md, docs/dossier-v1.schema.json): the one
// shape every agency message becomes. Reading is strict (unknown keys, wrong types and bad shapes
// are errors naming the field); writing is deterministic and omits absent optional fields.
#pragma once

#include "hub/common/result.hpp"
#include "hub/common/time.hpp"

#include <boost/json/fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dh {

inline constexpr std::string_view kDossierSchema = "dossier/v1";

enum class DossierKind { result_delivery, dossier_pickup };
enum class PostagePayer { recipient, agency };
enum class SourceFormat { xml, json };

std::string_view to_string(DossierKind k) noexcept;
std::string_view to_string(PostagePayer p) noexcept;
std::string_view to_string(SourceFormat f) noexcept;
std::optional<DossierKind> parse_dossier_kind(std::string_view s) noexcept;
std::optional<PostagePayer> parse_postage_payer(std::string_view s) noexcept;
std::optional<SourceFormat> parse_source_format(std::string_view s) noexcept;

struct AgencyRef {
  std::string id;        // the hub's key, the mapping's file name: "hcm-justice"
  std::string organ_id;  // QCVN 102 identifier: "000.00.12.H29"
  std::string name;
  friend bool operator==(const AgencyRef&, const AgencyRef&) = default;
};

struct Procedure {
  std::string code;
  std::optional<std::string> name;
  friend bool operator==(const Procedure&, const Procedure&) = default;
};

struct Person {
  std::string full_name;
  std::optional<std::string> id_number;  // 12-digit CCCD or 9-digit CMND
  std::optional<std::string> phone;      // E.164, "+84..."
  std::optional<std::string> email;
  friend bool operator==(const Person&, const Person&) = default;
};

// GSO codes: province 2 digits, district 3 (pre-2025 units only), ward 5.
struct Address {
  std::optional<std::string> line;
  std::optional<std::string> ward_code;
  std::optional<std::string> ward_name;
  std::optional<std::string> district_code;
  std::optional<std::string> district_name;
  std::optional<std::string> province_code;
  std::optional<std::string> province_name;
  // Added by the hub's router when the address carries a pre-2025 ward code that merged whole
  // into one current ward: the codes given above are kept as they were.
  std::optional<std::string> current_ward_code;
  std::optional<std::string> current_ward_name;
  [[nodiscard]] bool empty() const noexcept;
  friend bool operator==(const Address&, const Address&) = default;
};

struct Item {
  std::string name;
  std::int64_t quantity = 1;
  bool original = false;
  friend bool operator==(const Item&, const Item&) = default;
};

struct Fees {
  std::int64_t cod_amount = 0;  // đồng, collected on delivery; 0 if none
  std::optional<PostagePayer> postage_paid_by;
  friend bool operator==(const Fees&, const Fees&) = default;
};

struct Dates {
  std::optional<Timestamp> ready_at;
  std::optional<Timestamp> due_at;
  friend bool operator==(const Dates&, const Dates&) = default;
};

struct Source {
  std::optional<std::string> message_id;  // the agency's message id: the idempotency key
  SourceFormat format = SourceFormat::json;
  std::optional<std::string> sha256;  // hub-assigned: hex SHA-256 of the raw body
  friend bool operator==(const Source&, const Source&) = default;
};

struct Dossier {
  DossierKind kind = DossierKind::result_delivery;
  AgencyRef agency;
  std::string dossier_code;
  std::optional<Procedure> procedure;
  Person applicant;
  std::optional<Person> recipient;
  std::optional<Address> delivery_address;
  std::optional<Address> pickup_address;
  std::vector<Item> items;
  Fees fees;
  Dates dates;
  std::optional<std::string> note;
  Source source;

  // Assigned by the hub when it stores the dossier; never produced by a mapping.
  std::optional<std::string> hub_id;
  std::optional<Timestamp> received_at;
  std::optional<std::string> status;
  std::optional<std::string> route;

  friend bool operator==(const Dossier&, const Dossier&) = default;
};

// Limits that are part of the contract (and of the JSON Schema).
inline constexpr std::int64_t kMaxCodAmount = 1'000'000'000'000;  // 10^12 đồng
inline constexpr std::int64_t kMaxItemQuantity = 10'000;

// Whether validate() checks the encoding of every text field (valid UTF-8, NFC, no NUL), or
// trusts its producer to guarantee it: the mapping engine builds every text field that way.
enum class TextChecks { full, trusted };

// Checks the invariants the types cannot express: required text not blank, code shapes, phone
// E.164, CCCD/CMND digits, NFC text, the address required by the kind. Paths are JSON Pointers.
FieldErrors validate(const Dossier& d, TextChecks checks = TextChecks::full);

enum class HubFields { include, omit };

// Writes the dossier as a JSON object with keys in contract order; absent optionals are omitted.
boost::json::object to_json(const Dossier& d, HubFields hub = HubFields::include);

// Reads a dossier strictly: every problem is reported with its JSON Pointer path. Text is
// normalised to NFC on the way in. The result has passed validate().
Result<Dossier> dossier_from_json(const boost::json::value& v);

// Pretty printing with two-space indentation and stable key order, for people and golden files.
std::string to_pretty_json(const boost::json::value& v);

}  // namespace dh
