// The mapping engine: applies a compiled mapping to a parsed message. Pure: no I/O, no clock.
#include "hub/common/text.hpp"
#include "hub/mapping/model.hpp"

#include <boost/json.hpp>

namespace dh::mapping {

// ---------------------------------------------------------------- targets

namespace {

constexpr std::array<TargetInfo, static_cast<std::size_t>(Target::count_)> kTargets = {{
    {"agency.organ_id", "/agency/organ_id", FieldType::text, false},
    {"agency.name", "/agency/name", FieldType::text, false},
    {"dossier_code", "/dossier_code", FieldType::text, false},
    {"note", "/note", FieldType::text, false},
    {"source.message_id", "/source/message_id", FieldType::text, false},
    {"procedure.code", "/procedure/code", FieldType::text, false},
    {"procedure.name", "/procedure/name", FieldType::text, false},
    {"applicant.full_name", "/applicant/full_name", FieldType::text, false},
    {"applicant.id_number", "/applicant/id_number", FieldType::text, false},
    {"applicant.phone", "/applicant/phone", FieldType::text, false},
    {"applicant.email", "/applicant/email", FieldType::text, false},
    {"recipient.full_name", "/recipient/full_name", FieldType::text, false},
    {"recipient.id_number", "/recipient/id_number", FieldType::text, false},
    {"recipient.phone", "/recipient/phone", FieldType::text, false},
    {"recipient.email", "/recipient/email", FieldType::text, false},
    {"delivery_address.line", "/delivery_address/line", FieldType::text, false},
    {"delivery_address.ward_code", "/delivery_address/ward_code", FieldType::text, false},
    {"delivery_address.ward_name", "/delivery_address/ward_name", FieldType::text, false},
    {"delivery_address.district_code", "/delivery_address/district_code", FieldType::text, false},
    {"delivery_address.district_name", "/delivery_address/district_name", FieldType::text, false},
    {"delivery_address.province_code", "/delivery_address/province_code", FieldType::text, false},
    {"delivery_address.province_name", "/delivery_address/province_name", FieldType::text, false},
    {"pickup_address.line", "/pickup_address/line", FieldType::text, false},
    {"pickup_address.ward_code", "/pickup_address/ward_code", FieldType::text, false},
    {"pickup_address.ward_name", "/pickup_address/ward_name", FieldType::text, false},
    {"pickup_address.district_code", "/pickup_address/district_code", FieldType::text, false},
    {"pickup_address.district_name", "/pickup_address/district_name", FieldType::text, false},
    {"pickup_address.province_code", "/pickup_address/province_code", FieldType::text, false},
    {"pickup_address.province_name", "/pickup_address/province_name", FieldType::text, false},
    {"fees.cod_amount", "/fees/cod_amount", FieldType::integer, false},
    {"fees.postage_paid_by", "/fees/postage_paid_by", FieldType::payer, false},
    {"dates.ready_at", "/dates/ready_at", FieldType::time, false},
    {"dates.due_at", "/dates/due_at", FieldType::time, false},
    {"name", "/name", FieldType::text, true},
    {"quantity", "/quantity", FieldType::integer, true},
    {"original", "/original", FieldType::boolean, true},
}};

}  // namespace

const TargetInfo& info(Target t) noexcept {
  return kTargets[static_cast<std::size_t>(t)];
}

std::optional<Target> find_target(std::string_view name, bool in_items) noexcept {
  for (std::size_t i = 0; i < kTargets.size(); ++i)
    if (kTargets[i].name == name && kTargets[i].item == in_items) return static_cast<Target>(i);
  return std::nullopt;
}

// ---------------------------------------------------------------- problems

std::string_view type_uri(ProblemType t) noexcept {
  switch (t) {
    case ProblemType::malformed_message:
      return "urn:dossier-hub:problem:malformed-message";
    case ProblemType::schema_invalid:
      return "urn:dossier-hub:problem:schema-invalid";
    case ProblemType::soap_fault:
      return "urn:dossier-hub:problem:soap-fault";
    case ProblemType::unknown_message_type:
      return "urn:dossier-hub:problem:unknown-message-type";
    case ProblemType::invalid_message:
      return "urn:dossier-hub:problem:invalid-message";
  }
  return "";
}

std::string_view title(ProblemType t) noexcept {
  switch (t) {
    case ProblemType::malformed_message:
      return "The message is not well-formed";
    case ProblemType::schema_invalid:
      return "The message does not follow the agency's schema";
    case ProblemType::soap_fault:
      return "A SOAP Fault is not a request";
    case ProblemType::unknown_message_type:
      return "The message is of no type this agency's mapping knows";
    case ProblemType::invalid_message:
      return "The message does not map to a valid dossier";
  }
  return "";
}

int http_status(ProblemType t) noexcept {
  return t == ProblemType::malformed_message ? 400 : 422;
}

boost::json::object to_json(const Problem& p) {
  boost::json::object o;
  o.emplace("type", type_uri(p.type));
  o.emplace("title", title(p.type));
  o.emplace("status", http_status(p.type));
  if (!p.message_type.empty()) o.emplace("message_type", p.message_type);
  boost::json::array errors;
  for (const auto& e : p.errors.errors)
    errors.emplace_back(boost::json::object{{"path", e.path}, {"reason", e.reason}});
  o.emplace("errors", std::move(errors));
  return o;
}

// ---------------------------------------------------------------- evaluation

namespace {

// Where a value goes in the dossier, for error paths. The path is only built when there is an
// error: building it for every field of every message costs an allocation each.
struct Where {
  std::string_view prefix;   // "" or "/records/3" or "/records/3/items/0"
  std::string_view pointer;  // "/applicant/phone"
  [[nodiscard]] std::string str() const {
    std::string out(prefix);
    out += pointer;
    return out;
  }
};

class Evaluator {
 public:
  Evaluator(const Mapping::Impl& m, const Document& doc) : m_(m), doc_(doc) {}

  // Reads a rule's source and runs its transforms. Errors go to `errors` under `pointer`.
  Value evaluate(const FieldRule& r, NodeRef ctx, const Where& at, FieldErrors& errors) const {
    Value v;
    switch (r.source.kind) {
      case Source::Kind::constant:
        v = r.source.constant;
        break;
      case Source::Kind::path: {
        auto read = read_path(*r.source.path, ctx);
        if (!read) {
          errors.add(at.str(), read.error().message);
          return {};
        }
        v = std::move(*read);
        break;
      }
      case Source::Kind::concat: {
        std::string out;
        bool any = false;
        for (const auto& part : r.source.parts) {
          std::optional<std::string> piece;
          if (part.literal) {
            piece = *part.literal;
          } else {
            auto read = read_path(*part.path, ctx);
            if (!read) {
              errors.add(at.str(), read.error().message);
              return {};
            }
            Value pv = std::move(*read);
            if (has_value(pv)) {
              for (const auto& t : part.transforms) {
                auto tv = t.apply(std::move(pv));
                if (!tv) {
                  errors.add(at.str(), tv.error().message);
                  return {};
                }
                pv = std::move(*tv);
              }
              piece = as_text(pv);
            }
            // A part without a value, or with blank text, is skipped with its separator.
            if (!piece || text::is_blank(*piece)) continue;
            any = true;
          }
          if (!out.empty() && !r.source.separator.empty() && !piece->empty()) out += r.source.separator;
          out += *piece;
        }
        if (any) v = std::move(out);
        break;
      }
    }
    if (is_blank(v)) v = {};
    if (has_value(v)) {
      for (const auto& t : r.transforms) {
        auto tv = t.apply(std::move(v));
        if (!tv) {
          errors.add(at.str(), tv.error().message);
          return {};
        }
        v = std::move(*tv);
        if (is_blank(v)) {
          v = {};
          break;
        }
      }
    }
    if (!has_value(v)) v = r.fallback;
    if (!has_value(v) && r.required) errors.add(at.str(), "is required");
    return v;
  }

  Outcome<Value> read_path(const CompiledPath& p, NodeRef ctx) const {
    const NodeRef n = p.first(doc_, ctx);
    if (!n) return Value{};
    return doc_.value(n);
  }

  bool holds(const Condition& c, NodeRef ctx) const {
    const NodeRef n = c.path->first(doc_, ctx);
    // Something exists when it is there and is not a JSON null.
    const auto present = [&] {
      if (!n) return false;
      auto v = doc_.value(n);
      return !v || has_value(*v);  // a structure (an error as a value) is there too
    };
    switch (c.op) {
      case Condition::Op::exists:
        return present();
      case Condition::Op::absent:
        return !present();
      default:
        break;
    }
    if (!n) return false;
    auto v = doc_.value(n);
    if (!v) return false;
    auto s = as_text(*v);
    if (!s) return false;
    const std::string t = text::to_nfc(text::trim(*s));
    for (const auto& want : c.values)
      if (t == want) return true;
    return false;
  }

  static bool is_blank(const Value& v) {
    const auto* s = std::get_if<std::string>(&v);
    return s && text::is_blank(*s);
  }

  // Applies a rule set to a dossier; `skip` lists targets a more specific rule set owns.
  void apply(const RuleSet& rs, NodeRef ctx, Dossier& d, const std::string& prefix, FieldErrors& errors,
             const std::array<bool, static_cast<std::size_t>(Target::count_)>* skip) const {
    for (const auto& r : rs.fields) {
      if (skip && (*skip)[static_cast<std::size_t>(r.target)]) continue;
      const Where at{prefix, info(r.target).pointer};
      Value v = evaluate(r, ctx, at, errors);
      if (has_value(v)) set(d, r.target, std::move(v), at, errors);
    }
    if (rs.items) apply_items(*rs.items, ctx, d, prefix, errors);
  }

  void apply_items(const ItemsRule& items, NodeRef ctx, Dossier& d, const std::string& prefix,
                   FieldErrors& errors) const {
    std::vector<NodeRef> nodes;
    items.each->all(doc_, ctx, nodes);
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      Item item;
      const std::string ip = prefix + "/items/" + std::to_string(i);
      for (const auto& r : items.fields) {
        const Where at{ip, info(r.target).pointer};
        const std::size_t before = errors.errors.size();
        Value v = evaluate(r, nodes[i], at, errors);
        if (!has_value(v)) {
          if (r.target == Target::item_name && errors.errors.size() == before) errors.add(at.str(), "is required");
          continue;
        }
        set_item(item, r.target, std::move(v), at, errors);
      }
      d.items.push_back(std::move(item));
    }
  }

  static void set_item(Item& it, Target t, Value v, const Where& at, FieldErrors& errors) {
    switch (t) {
      case Target::item_name:
        if (auto s = text_of(v, at, errors)) it.name = std::move(*s);
        break;
      case Target::item_quantity:
        if (auto i = integer_of(v, at, errors)) it.quantity = *i;
        break;
      default:
        if (const auto* b = std::get_if<bool>(&v))
          it.original = *b;
        else
          errors.add(at.str(), std::string("must be true or false, got ") + type_name(v));
        break;
    }
  }

  // Text for a dossier field: trimmed, NFC. The text came from a parsed (so valid UTF-8) message
  // or a loaded mapping, so it is not checked again; unchanged text is moved, not copied.
  static std::optional<std::string> text_of(Value& v, const Where& at, FieldErrors& errors) {
    if (auto* s = std::get_if<std::string>(&v)) {
      const std::string_view t = text::trim(*s);
      if (t.size() == s->size() && text::is_nfc(t)) return std::move(*s);
      return text::to_nfc(t);
    }
    if (std::holds_alternative<std::int64_t>(v) || std::holds_alternative<double>(v)) {
      if (auto s = as_text(v)) return s;
    }
    errors.add(at.str(), std::string("must be text, got ") + type_name(v));
    return std::nullopt;
  }

  static std::optional<std::int64_t> integer_of(const Value& v, const Where& at, FieldErrors& errors) {
    if (const auto* i = std::get_if<std::int64_t>(&v)) return *i;
    if (std::holds_alternative<double>(v) || std::holds_alternative<std::string>(v)) {
      Transform t;
      t.op = Transform::Op::integer;
      if (auto r = t.apply(v)) return std::get<std::int64_t>(*r);
    }
    errors.add(at.str(), "must be a whole number");
    return std::nullopt;
  }

  static void set(Dossier& d, Target t, Value v, const Where& at, FieldErrors& errors) {
    const FieldType type = info(t).type;
    if (type == FieldType::integer) {
      if (auto i = integer_of(v, at, errors)) d.fees.cod_amount = *i;
      return;
    }
    if (type == FieldType::time) {
      std::optional<Timestamp> ts;
      if (const auto* tp = std::get_if<Timestamp>(&v))
        ts = *tp;
      else if (const auto* s = std::get_if<std::string>(&v))
        ts = Timestamp::parse_rfc3339(text::trim(*s));
      if (!ts) {
        errors.add(at.str(), "must be a time (use the date transform)");
        return;
      }
      (t == Target::dates_ready_at ? d.dates.ready_at : d.dates.due_at) = *ts;
      return;
    }
    auto s = text_of(v, at, errors);
    if (!s) return;
    if (type == FieldType::payer) {
      auto p = parse_postage_payer(*s);
      if (!p)
        errors.add(at.str(), "must be recipient or agency");
      else
        d.fees.postage_paid_by = *p;
      return;
    }
    auto addr = [](std::optional<Address>& a) -> Address& {
      if (!a) a.emplace();
      return *a;
    };
    auto person = [](std::optional<Person>& p) -> Person& {
      if (!p) p.emplace();
      return *p;
    };
    auto proc = [&d]() -> Procedure& {
      if (!d.procedure) d.procedure.emplace();
      return *d.procedure;
    };
    switch (t) {
      case Target::agency_organ_id:
        d.agency.organ_id = std::move(*s);
        break;
      case Target::agency_name:
        d.agency.name = std::move(*s);
        break;
      case Target::dossier_code:
        d.dossier_code = std::move(*s);
        break;
      case Target::note:
        d.note = std::move(*s);
        break;
      case Target::source_message_id:
        d.source.message_id = std::move(*s);
        break;
      case Target::procedure_code:
        proc().code = std::move(*s);
        break;
      case Target::procedure_name:
        proc().name = std::move(*s);
        break;
      case Target::applicant_full_name:
        d.applicant.full_name = std::move(*s);
        break;
      case Target::applicant_id_number:
        d.applicant.id_number = std::move(*s);
        break;
      case Target::applicant_phone:
        d.applicant.phone = std::move(*s);
        break;
      case Target::applicant_email:
        d.applicant.email = std::move(*s);
        break;
      case Target::recipient_full_name:
        person(d.recipient).full_name = std::move(*s);
        break;
      case Target::recipient_id_number:
        person(d.recipient).id_number = std::move(*s);
        break;
      case Target::recipient_phone:
        person(d.recipient).phone = std::move(*s);
        break;
      case Target::recipient_email:
        person(d.recipient).email = std::move(*s);
        break;
      case Target::delivery_line:
        addr(d.delivery_address).line = std::move(*s);
        break;
      case Target::delivery_ward_code:
        addr(d.delivery_address).ward_code = std::move(*s);
        break;
      case Target::delivery_ward_name:
        addr(d.delivery_address).ward_name = std::move(*s);
        break;
      case Target::delivery_district_code:
        addr(d.delivery_address).district_code = std::move(*s);
        break;
      case Target::delivery_district_name:
        addr(d.delivery_address).district_name = std::move(*s);
        break;
      case Target::delivery_province_code:
        addr(d.delivery_address).province_code = std::move(*s);
        break;
      case Target::delivery_province_name:
        addr(d.delivery_address).province_name = std::move(*s);
        break;
      case Target::pickup_line:
        addr(d.pickup_address).line = std::move(*s);
        break;
      case Target::pickup_ward_code:
        addr(d.pickup_address).ward_code = std::move(*s);
        break;
      case Target::pickup_ward_name:
        addr(d.pickup_address).ward_name = std::move(*s);
        break;
      case Target::pickup_district_code:
        addr(d.pickup_address).district_code = std::move(*s);
        break;
      case Target::pickup_district_name:
        addr(d.pickup_address).district_name = std::move(*s);
        break;
      case Target::pickup_province_code:
        addr(d.pickup_address).province_code = std::move(*s);
        break;
      case Target::pickup_province_name:
        addr(d.pickup_address).province_name = std::move(*s);
        break;
      default:
        break;
    }
  }

  // Agency fields from the mapping, then whole-dossier validation.
  // `before` is how many errors other dossiers of the message had: this one's are those after it.
  void finish(Dossier& d, DossierKind kind, const std::string& prefix, FieldErrors& errors, std::size_t before) const {
    d.kind = kind;
    d.agency.id = m_.agency_id;
    d.source.format = m_.source_format;
    const Organ* organ = nullptr;
    if (d.agency.organ_id.empty()) {
      if (m_.organs.size() == 1)
        organ = &m_.organs.front();
      else
        errors.add(prefix + "/agency/organ_id", "is required: this partner speaks for several organs");
    } else {
      for (const auto& o : m_.organs)
        if (o.id == d.agency.organ_id) organ = &o;
      if (!organ) errors.add(prefix + "/agency/organ_id", "is not an organ this partner may speak for");
    }
    if (organ) {
      d.agency.organ_id = organ->id;
      if (d.agency.name.empty()) d.agency.name = organ->name;
    }
    if (d.agency.name.empty()) d.agency.name = m_.agency_name;
    if (d.recipient && d.recipient->full_name.empty())
      errors.add(prefix + "/recipient/full_name", "is required when any recipient field is given");
    if (errors.errors.size() != before) return;  // validation would repeat what is already reported
    // Text fields were trimmed and normalised by text_of(); only their meaning is left to check.
    for (auto& e : validate(d, TextChecks::trusted).errors) errors.add(prefix + e.path, std::move(e.reason));
  }

 private:
  const Mapping::Impl& m_;
  const Document& doc_;
};

}  // namespace

std::optional<std::string> type_error(Target t, const Value& v) {
  FieldErrors errors;
  const Where at{};
  if (info(t).item) {
    Item scratch;
    Evaluator::set_item(scratch, t, v, at, errors);
  } else {
    Dossier scratch;
    Evaluator::set(scratch, t, v, at, errors);
  }
  if (errors.errors.empty()) return std::nullopt;
  return std::move(errors.errors.front().reason);
}

// ---------------------------------------------------------------- Mapping

Mapping::Mapping(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Mapping::~Mapping() = default;
Mapping::Mapping(Mapping&&) noexcept = default;
Mapping& Mapping::operator=(Mapping&&) noexcept = default;

const std::string& Mapping::agency_id() const noexcept {
  return impl_->agency_id;
}
const std::string& Mapping::agency_name() const noexcept {
  return impl_->agency_name;
}
const std::vector<Organ>& Mapping::organs() const noexcept {
  return impl_->organs;
}
const Identity& Mapping::identity() const noexcept {
  return impl_->identity;
}
const std::filesystem::path& Mapping::file() const noexcept {
  return impl_->file;
}
SourceFormat Mapping::source_format() const noexcept {
  return impl_->source_format;
}
const std::optional<RateLimit>& Mapping::rate_limit() const noexcept {
  return impl_->rate_limit;
}
bool Mapping::has_callback() const noexcept {
  return impl_->callback.has_value();
}

std::string_view Mapping::callback_url() const noexcept {
  return impl_->callback ? std::string_view(impl_->callback->url) : std::string_view();
}

std::vector<std::string> Mapping::message_types() const {
  std::vector<std::string> out;
  for (const auto& m : impl_->messages) out.push_back(m.name);
  return out;
}

boost::system::result<Mapping::Translation, Problem> Mapping::translate(std::string_view body,
                                                                        const ParseLimits& limits) const {
  auto parsed = impl_->format->parse(body, limits);
  if (!parsed) return parsed.error();
  const Document& doc = **parsed;
  Evaluator ev(*impl_, doc);
  const NodeRef root = doc.root();

  const MessageType* type = nullptr;
  for (const auto& m : impl_->messages) {
    bool all = true;
    for (const auto& c : m.when) all = all && ev.holds(c, root);
    if (all) {
      type = &m;
      break;
    }
  }
  if (!type) {
    std::string names;
    for (const auto& m : impl_->messages) names += (names.empty() ? "" : ", ") + m.name;
    return Problem::single(ProblemType::unknown_message_type, "",
                           "matches none of this agency's message types (" + names + ")");
  }

  Translation out;
  out.message_type = type->name;
  Problem problem;
  problem.type = ProblemType::invalid_message;
  problem.message_type = type->name;
  FieldErrors& errors = problem.errors;

  if (!type->records) {
    Dossier d;
    ev.apply(type->rules, root, d, "", errors, nullptr);
    ev.finish(d, type->kind, "", errors, 0);
    if (!errors.empty()) return problem;
    out.dossiers.push_back(std::move(d));
    return out;
  }

  out.batch = true;
  std::vector<NodeRef> records;
  type->records->each->all(doc, root, records);
  if (records.empty()) {
    errors.add("/records", "the batch has no records");
    return problem;
  }
  std::array<bool, static_cast<std::size_t>(Target::count_)> owned{};
  for (const auto& r : type->records->rules.fields) owned[static_cast<std::size_t>(r.target)] = true;
  const bool record_items = type->records->rules.items.has_value();
  out.dossiers.reserve(records.size());
  for (std::size_t i = 0; i < records.size(); ++i) {
    const std::string prefix = "/records/" + std::to_string(i);
    Dossier d;
    const std::size_t before = errors.errors.size();
    // Message-level rules first (from the root), skipping fields the record maps itself.
    for (const auto& r : type->rules.fields) {
      if (owned[static_cast<std::size_t>(r.target)]) continue;
      const Where at{prefix, info(r.target).pointer};
      Value v = ev.evaluate(r, root, at, errors);
      if (has_value(v)) Evaluator::set(d, r.target, std::move(v), at, errors);
    }
    // Items shared by every record are read from the root, unless the record has its own.
    if (type->rules.items && !record_items) ev.apply_items(*type->rules.items, root, d, prefix, errors);
    ev.apply(type->records->rules, records[i], d, prefix, errors, nullptr);
    ev.finish(d, type->kind, prefix, errors, before);
    out.dossiers.push_back(std::move(d));
  }
  if (!errors.empty()) return problem;
  return out;
}

bool Mapping::reports(std::string_view status) const noexcept {
  if (!impl_->callback) return false;
  for (const auto& s : impl_->callback->statuses)
    if (s == status) return true;
  return false;
}

Outcome<RenderedCallback> Mapping::render_callback(const StatusReport& r) const {
  if (!impl_->callback) return make_error(std::string("the mapping has no callback section"));
  const Callback& cb = *impl_->callback;
  std::vector<std::pair<std::string, Value>> fields;
  for (const auto& f : cb.fields) {
    Value v;
    const auto opt = [&v](const std::optional<std::string>& s) {
      if (s) v = *s;
    };
    switch (f.from) {
      case ReportSource::dossier_code:
        opt(r.dossier_code);
        break;
      case ReportSource::hub_id:
        opt(r.hub_id);
        break;
      case ReportSource::message_id:
        opt(r.message_id);
        break;
      case ReportSource::organ_id:
        opt(r.organ_id);
        break;
      case ReportSource::status:
        v = r.status;
        break;
      case ReportSource::item_code:
        opt(r.item_code);
        break;
      case ReportSource::event_id:
        opt(r.event_id);
        break;
      case ReportSource::event_reason:
        opt(r.reason);
        break;
      case ReportSource::post_office:
        opt(r.post_office);
        break;
      case ReportSource::event_time:
        if (r.event_time) v = *r.event_time;
        break;
      case ReportSource::constant:
        v = f.constant;
        break;
    }
    for (const auto& t : f.transforms) {
      if (!has_value(v)) break;
      auto tv = t.apply(std::move(v));
      if (!tv) return make_error("callback field " + f.output + ": " + tv.error().message);
      v = std::move(*tv);
    }
    if (!has_value(v)) continue;
    if (const auto* ts = std::get_if<Timestamp>(&v)) {
      Timestamp local = *ts;
      local.offset_minutes = kVietnamOffsetMinutes;
      v = f.date ? f.date->format(local) : local.to_rfc3339();
    }
    fields.emplace_back(f.output, std::move(v));
  }
  auto body = cb.format->render(cb.root, fields, cb.envelope);
  if (!body) return body.error();
  RenderedCallback out;
  out.url = cb.url;
  switch (cb.envelope) {
    case Envelope::none:
      out.content_type = cb.source_format == SourceFormat::xml ? "application/xml; charset=utf-8" : "application/json";
      break;
    case Envelope::soap11:
      out.content_type = "text/xml; charset=utf-8";
      break;
    case Envelope::soap12:
      out.content_type = "application/soap+xml; charset=utf-8";
      if (!cb.soap_action.empty()) out.content_type += "; action=\"" + cb.soap_action + "\"";
      break;
  }
  out.headers = callback_headers();
  out.body = std::move(*body);
  return out;
}

std::vector<std::pair<std::string, std::string>> Mapping::callback_headers() const {
  // SOAP 1.1 names the operation in a header of its own, always present ("" leaves it to the URL).
  if (!impl_->callback || impl_->callback->envelope != Envelope::soap11) return {};
  return {{"SOAPAction", "\"" + impl_->callback->soap_action + "\""}};
}

}  // namespace dh::mapping
