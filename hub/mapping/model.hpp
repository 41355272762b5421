// Internal: the compiled form of a mapping, shared by the loader and the engine. Not a public
// header: everything outside hub/mapping/ uses mapping.hpp.
#pragma once

#include "hub/mapping/mapping.hpp"

#include <array>
#include <map>

namespace dh::mapping {

enum class FieldType : std::uint8_t { text, integer, boolean, time, payer };

enum class Target : std::uint8_t {
  agency_organ_id,
  agency_name,
  dossier_code,
  note,
  source_message_id,
  procedure_code,
  procedure_name,
  applicant_full_name,
  applicant_id_number,
  applicant_phone,
  applicant_email,
  recipient_full_name,
  recipient_id_number,
  recipient_phone,
  recipient_email,
  delivery_line,
  delivery_ward_code,
  delivery_ward_name,
  delivery_district_code,
  delivery_district_name,
  delivery_province_code,
  delivery_province_name,
  pickup_line,
  pickup_ward_code,
  pickup_ward_name,
  pickup_district_code,
  pickup_district_name,
  pickup_province_code,
  pickup_province_name,
  fees_cod_amount,
  fees_postage_paid_by,
  dates_ready_at,
  dates_due_at,
  item_name,
  item_quantity,
  item_original,
  count_
};

struct TargetInfo {
  std::string_view name;     // as written in a mapping: "applicant.phone"
  std::string_view pointer;  // in the dossier: "/applicant/phone"
  FieldType type;
  bool item;  // only inside `items.fields`
};

const TargetInfo& info(Target t) noexcept;
std::optional<Target> find_target(std::string_view name, bool in_items) noexcept;

// Why `v` cannot go into the field `t` (the same conversion a message's value goes through), or
// nullopt when it can: the loader checks `const` and `default` values with it.
std::optional<std::string> type_error(Target t, const Value& v);

struct ConcatPart {
  std::optional<std::string> literal;
  std::unique_ptr<CompiledPath> path;
  std::vector<Transform> transforms;
};

struct Source {
  enum class Kind : std::uint8_t { path, constant, concat } kind = Kind::path;
  std::unique_ptr<CompiledPath> path;
  Value constant;
  std::vector<ConcatPart> parts;
  std::string separator;
};

struct FieldRule {
  Target target{};
  Source source;
  std::vector<Transform> transforms;
  Value fallback;  // `default`
  bool required = false;
};

struct ItemsRule {
  std::unique_ptr<CompiledPath> each;
  std::vector<FieldRule> fields;
};

struct RuleSet {
  std::vector<FieldRule> fields;
  std::optional<ItemsRule> items;
};

struct Condition {
  enum class Op : std::uint8_t { exists, absent, equals, in } op = Op::exists;
  std::unique_ptr<CompiledPath> path;
  std::vector<std::string> values;
};

struct Records {
  std::unique_ptr<CompiledPath> each;
  RuleSet rules;
};

struct MessageType {
  std::string name;
  std::vector<Condition> when;  // empty: always
  DossierKind kind = DossierKind::result_delivery;
  RuleSet rules;
  std::optional<Records> records;
};

enum class ReportSource : std::uint8_t {
  dossier_code,
  hub_id,
  message_id,
  organ_id,
  status,
  item_code,
  event_id,
  event_time,
  event_reason,
  post_office,
  constant
};

struct CallbackField {
  std::string output;
  ReportSource from = ReportSource::constant;
  std::string constant;
  std::vector<Transform> transforms;
  std::optional<DatePattern> date;
};

struct Callback {
  std::string url;
  std::unique_ptr<Format> own_format;  // when callback.format differs from format.kind
  const Format* format = nullptr;
  SourceFormat source_format = SourceFormat::json;
  std::vector<std::string> statuses;
  std::string root;
  std::vector<CallbackField> fields;
  Envelope envelope = Envelope::none;  // xml only: callback.soap
  std::string soap_action;             // callback.soap_action: SOAP 1.1's SOAPAction, SOAP 1.2's action
};

struct Mapping::Impl {
  std::filesystem::path file;
  std::string agency_id;
  std::string agency_name;
  std::vector<Organ> organs;
  Identity identity;
  std::unique_ptr<Format> format;
  SourceFormat source_format = SourceFormat::json;
  std::vector<std::unique_ptr<Table>> tables;
  std::vector<MessageType> messages;
  std::optional<Callback> callback;
  std::optional<RateLimit> rate_limit;
};

}  // namespace dh::mapping
