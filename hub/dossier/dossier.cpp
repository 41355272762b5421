#include "hub/dossier/dossier.hpp"

#include "hub/common/text.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <initializer_list>

namespace dh {
namespace json = boost::json;

// ---------------------------------------------------------------- enums

std::string_view to_string(DossierKind k) noexcept {
  return k == DossierKind::result_delivery ? "result_delivery" : "dossier_pickup";
}
std::string_view to_string(PostagePayer p) noexcept {
  return p == PostagePayer::recipient ? "recipient" : "agency";
}
std::string_view to_string(SourceFormat f) noexcept {
  return f == SourceFormat::xml ? "xml" : "json";
}

std::optional<DossierKind> parse_dossier_kind(std::string_view s) noexcept {
  if (s == "result_delivery") return DossierKind::result_delivery;
  if (s == "dossier_pickup") return DossierKind::dossier_pickup;
  return std::nullopt;
}
std::optional<PostagePayer> parse_postage_payer(std::string_view s) noexcept {
  if (s == "recipient") return PostagePayer::recipient;
  if (s == "agency") return PostagePayer::agency;
  return std::nullopt;
}
std::optional<SourceFormat> parse_source_format(std::string_view s) noexcept {
  if (s == "xml") return SourceFormat::xml;
  if (s == "json") return SourceFormat::json;
  return std::nullopt;
}

bool Address::empty() const noexcept {
  return !line && !ward_code && !ward_name && !district_code && !district_name && !province_code && !province_name;
}

// ---------------------------------------------------------------- validation

namespace {

bool all_digits(std::string_view s) noexcept {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_e164(std::string_view s) noexcept {
  return s.size() >= 8 && s.size() <= 16 && s[0] == '+' && s[1] >= '1' && s[1] <= '9' && all_digits(s.substr(1));
}

bool is_email(std::string_view s) noexcept {
  const auto at = s.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 >= s.size()) return false;
  if (s.find('@', at + 1) != std::string_view::npos) return false;
  if (s.find_first_of(" \t\r\n<>") != std::string_view::npos) return false;
  return s.find('.', at) != std::string_view::npos;
}

class Checker {
 public:
  explicit Checker(TextChecks checks) : checks_(checks) {}

  void text(const std::string& path, std::string_view v, bool required = true) {
    if (required && text::is_blank(v)) {
      errors_.add(path, "must not be empty");
    } else if (checks_ == TextChecks::trusted) {
      return;
    } else if (!text::is_valid_utf8(v)) {
      errors_.add(path, "is not valid UTF-8");
    } else if (!text::is_nfc(v)) {
      errors_.add(path, "is not in Unicode NFC");
    } else if (v.find('\0') != std::string_view::npos) {
      errors_.add(path, "contains a NUL character");
    }
  }
  void opt_text(const std::string& path, const std::optional<std::string>& v) {
    if (v) text(path, *v);
  }
  void code(const std::string& path, const std::optional<std::string>& v, std::size_t digits, const char* what) {
    if (!v) return;
    if (v->size() != digits || !all_digits(*v)) {
      errors_.add(path, std::string("must be a ") + std::to_string(digits) + "-digit " + what + " code");
    }
  }
  void person(const std::string& path, const Person& p) {
    text(path + "/full_name", p.full_name);
    if (p.id_number && !((p.id_number->size() == 12 || p.id_number->size() == 9) && all_digits(*p.id_number)))
      errors_.add(path + "/id_number", "must be a 12-digit CCCD or 9-digit CMND number");
    if (p.phone && !is_e164(*p.phone)) errors_.add(path + "/phone", "must be an E.164 phone number (+84...)");
    if (p.email && !is_email(*p.email)) errors_.add(path + "/email", "must be an email address");
  }
  void address(const std::string& path, const Address& a) {
    if (a.empty()) {
      errors_.add(path, "must have at least one field");
      return;
    }
    opt_text(path + "/line", a.line);
    opt_text(path + "/ward_name", a.ward_name);
    opt_text(path + "/district_name", a.district_name);
    opt_text(path + "/province_name", a.province_name);
    code(path + "/ward_code", a.ward_code, 5, "GSO ward");
    code(path + "/district_code", a.district_code, 3, "GSO district");
    code(path + "/province_code", a.province_code, 2, "GSO province");
    code(path + "/current_ward_code", a.current_ward_code, 5, "GSO ward");
    opt_text(path + "/current_ward_name", a.current_ward_name);
  }
  FieldErrors take() { return std::move(errors_); }
  FieldErrors& errors() { return errors_; }

 private:
  TextChecks checks_;
  FieldErrors errors_;
};

}  // namespace

FieldErrors validate(const Dossier& d, TextChecks checks) {
  Checker c(checks);
  c.text("/agency/id", d.agency.id);
  c.text("/agency/organ_id", d.agency.organ_id);
  c.text("/agency/name", d.agency.name);
  c.text("/dossier_code", d.dossier_code);
  if (d.procedure) {
    c.text("/procedure/code", d.procedure->code);
    c.opt_text("/procedure/name", d.procedure->name);
  }
  c.person("/applicant", d.applicant);
  if (d.recipient) c.person("/recipient", *d.recipient);
  if (d.delivery_address) c.address("/delivery_address", *d.delivery_address);
  if (d.pickup_address) c.address("/pickup_address", *d.pickup_address);
  if (d.kind == DossierKind::result_delivery && !d.delivery_address)
    c.errors().add("/delivery_address", "is required for a result_delivery dossier");
  if (d.kind == DossierKind::dossier_pickup && !d.pickup_address)
    c.errors().add("/pickup_address", "is required for a dossier_pickup dossier");
  for (std::size_t i = 0; i < d.items.size(); ++i) {
    const std::string p = "/items/" + std::to_string(i);
    c.text(p + "/name", d.items[i].name);
    if (d.items[i].quantity < 1 || d.items[i].quantity > kMaxItemQuantity)
      c.errors().add(p + "/quantity", "must be between 1 and " + std::to_string(kMaxItemQuantity));
  }
  if (d.fees.cod_amount < 0 || d.fees.cod_amount > kMaxCodAmount)
    c.errors().add("/fees/cod_amount", "must be a whole number of đồng between 0 and 10^12");
  c.opt_text("/note", d.note);
  if (d.source.message_id) c.text("/source/message_id", *d.source.message_id);
  if (d.source.sha256 &&
      (d.source.sha256->size() != 64 || d.source.sha256->find_first_not_of("0123456789abcdef") != std::string::npos))
    c.errors().add("/source/sha256", "must be 64 lowercase hex digits");
  return c.take();
}

// ---------------------------------------------------------------- writing

namespace {

void put(json::object& o, std::string_view key, const std::optional<std::string>& v) {
  if (v) o.emplace(key, *v);
}

json::object person_json(const Person& p) {
  json::object o;
  o.emplace("full_name", p.full_name);
  put(o, "id_number", p.id_number);
  put(o, "phone", p.phone);
  put(o, "email", p.email);
  return o;
}

json::object address_json(const Address& a, HubFields hub) {
  json::object o;
  put(o, "line", a.line);
  put(o, "ward_code", a.ward_code);
  put(o, "ward_name", a.ward_name);
  put(o, "district_code", a.district_code);
  put(o, "district_name", a.district_name);
  put(o, "province_code", a.province_code);
  put(o, "province_name", a.province_name);
  if (hub == HubFields::include) {
    put(o, "current_ward_code", a.current_ward_code);
    put(o, "current_ward_name", a.current_ward_name);
  }
  return o;
}

}  // namespace

json::object to_json(const Dossier& d, HubFields hub) {
  json::object o;
  o.emplace("schema", kDossierSchema);
  if (hub == HubFields::include && d.hub_id) o.emplace("hub_id", *d.hub_id);
  o.emplace("kind", to_string(d.kind));
  o.emplace("agency", json::object{{"id", d.agency.id}, {"organ_id", d.agency.organ_id}, {"name", d.agency.name}});
  o.emplace("dossier_code", d.dossier_code);
  if (d.procedure) {
    json::object p{{"code", d.procedure->code}};
    put(p, "name", d.procedure->name);
    o.emplace("procedure", std::move(p));
  }
  o.emplace("applicant", person_json(d.applicant));
  if (d.recipient) o.emplace("recipient", person_json(*d.recipient));
  if (d.delivery_address) o.emplace("delivery_address", address_json(*d.delivery_address, hub));
  if (d.pickup_address) o.emplace("pickup_address", address_json(*d.pickup_address, hub));
  if (!d.items.empty()) {
    json::array items;
    items.reserve(d.items.size());
    for (const auto& it : d.items)
      items.emplace_back(json::object{{"name", it.name}, {"quantity", it.quantity}, {"original", it.original}});
    o.emplace("items", std::move(items));
  }
  json::object fees{{"cod_amount", d.fees.cod_amount}};
  if (d.fees.postage_paid_by) fees.emplace("postage_paid_by", to_string(*d.fees.postage_paid_by));
  o.emplace("fees", std::move(fees));
  if (d.dates.ready_at || d.dates.due_at) {
    json::object dates;
    if (d.dates.ready_at) dates.emplace("ready_at", d.dates.ready_at->to_rfc3339());
    if (d.dates.due_at) dates.emplace("due_at", d.dates.due_at->to_rfc3339());
    o.emplace("dates", std::move(dates));
  }
  put(o, "note", d.note);
  json::object src;
  put(src, "message_id", d.source.message_id);
  src.emplace("format", to_string(d.source.format));
  if (hub == HubFields::include) put(src, "sha256", d.source.sha256);
  o.emplace("source", std::move(src));
  if (hub == HubFields::include) {
    if (d.received_at) o.emplace("received_at", d.received_at->to_rfc3339());
    put(o, "status", d.status);
    put(o, "route", d.route);
  }
  return o;
}

// ---------------------------------------------------------------- reading

namespace {

// Reads one JSON object strictly: each key must be consumed, a key left over is an error.
class ObjectReader {
 public:
  ObjectReader(const json::value& v, std::string path, FieldErrors& errors) : path_(std::move(path)), errors_(errors) {
    if (const auto* o = v.if_object())
      obj_ = o;
    else
      errors_.add(path_.empty() ? "/" : path_, "must be an object");
  }
  [[nodiscard]] bool ok() const noexcept { return obj_ != nullptr; }
  [[nodiscard]] std::string child(std::string_view key) const { return path_ + "/" + std::string(key); }

  const json::value* get(std::string_view key) {
    if (!obj_) return nullptr;
    seen_.push_back(key);
    const json::value* v = obj_->if_contains(key);
    if (v && v->is_null()) {
      errors_.add(child(key), "must be omitted rather than null");
      return nullptr;
    }
    return v;
  }
  const json::value* need(std::string_view key) {
    const json::value* v = get(key);
    if (!v && obj_ && !obj_->contains(key)) errors_.add(child(key), "is required");
    return v;
  }

  std::optional<std::string> string(std::string_view key, bool required) {
    const json::value* v = required ? need(key) : get(key);
    if (!v) return std::nullopt;
    const auto* s = v->if_string();
    if (!s) {
      errors_.add(child(key), "must be a string");
      return std::nullopt;
    }
    if (!text::is_valid_utf8(*s)) {
      errors_.add(child(key), "is not valid UTF-8");
      return std::nullopt;
    }
    return text::to_nfc(*s);
  }
  std::optional<std::int64_t> integer(std::string_view key, bool required) {
    const json::value* v = required ? need(key) : get(key);
    if (!v) return std::nullopt;
    if (const auto* i = v->if_int64()) return *i;
    if (const auto* u = v->if_uint64(); u && *u <= static_cast<std::uint64_t>(INT64_MAX))
      return static_cast<std::int64_t>(*u);
    errors_.add(child(key), "must be an integer");
    return std::nullopt;
  }
  std::optional<bool> boolean(std::string_view key, bool required) {
    const json::value* v = required ? need(key) : get(key);
    if (!v) return std::nullopt;
    if (const auto* b = v->if_bool()) return *b;
    errors_.add(child(key), "must be true or false");
    return std::nullopt;
  }
  std::optional<Timestamp> time(std::string_view key) {
    auto s = string(key, false);
    if (!s) return std::nullopt;
    auto t = Timestamp::parse_rfc3339(*s);
    if (!t) errors_.add(child(key), "must be an RFC 3339 date-time with offset");
    return t;
  }
  template <class Fn>
  auto enumeration(std::string_view key, bool required, Fn parse, const char* allowed)
      -> decltype(parse(std::string_view{})) {
    auto s = string(key, required);
    if (!s) return std::nullopt;
    auto e = parse(*s);
    if (!e) errors_.add(child(key), std::string("must be one of ") + allowed);
    return e;
  }

  // Reports every key that no getter asked for.
  void finish() {
    if (!obj_) return;
    for (const auto& kv : *obj_) {
      if (std::find(seen_.begin(), seen_.end(), kv.key()) == seen_.end())
        errors_.add(child(kv.key()), "is not a field of dossier/v1");
    }
  }

 private:
  const json::object* obj_ = nullptr;
  std::string path_;
  FieldErrors& errors_;
  std::vector<std::string_view> seen_;
};

std::optional<Person> read_person(const json::value& v, const std::string& path, FieldErrors& errors) {
  ObjectReader r(v, path, errors);
  if (!r.ok()) return std::nullopt;
  Person p;
  p.full_name = r.string("full_name", true).value_or("");
  p.id_number = r.string("id_number", false);
  p.phone = r.string("phone", false);
  p.email = r.string("email", false);
  r.finish();
  return p;
}

std::optional<Address> read_address(const json::value& v, const std::string& path, FieldErrors& errors) {
  ObjectReader r(v, path, errors);
  if (!r.ok()) return std::nullopt;
  Address a;
  a.line = r.string("line", false);
  a.ward_code = r.string("ward_code", false);
  a.ward_name = r.string("ward_name", false);
  a.district_code = r.string("district_code", false);
  a.district_name = r.string("district_name", false);
  a.province_code = r.string("province_code", false);
  a.province_name = r.string("province_name", false);
  a.current_ward_code = r.string("current_ward_code", false);
  a.current_ward_name = r.string("current_ward_name", false);
  r.finish();
  return a;
}

}  // namespace

Result<Dossier> dossier_from_json(const json::value& v) {
  FieldErrors errors;
  Dossier d;
  ObjectReader r(v, "", errors);
  if (!r.ok()) return errors;

  if (auto s = r.string("schema", true); s && *s != kDossierSchema) errors.add("/schema", "must be \"dossier/v1\"");
  d.hub_id = r.string("hub_id", false);
  if (auto k = r.enumeration("kind", true, parse_dossier_kind, "result_delivery, dossier_pickup")) d.kind = *k;

  if (const auto* a = r.need("agency")) {
    ObjectReader ar(*a, "/agency", errors);
    d.agency.id = ar.string("id", true).value_or("");
    d.agency.organ_id = ar.string("organ_id", true).value_or("");
    d.agency.name = ar.string("name", true).value_or("");
    ar.finish();
  }
  d.dossier_code = r.string("dossier_code", true).value_or("");
  if (const auto* p = r.get("procedure")) {
    ObjectReader pr(*p, "/procedure", errors);
    if (pr.ok()) {
      Procedure proc;
      proc.code = pr.string("code", true).value_or("");
      proc.name = pr.string("name", false);
      pr.finish();
      d.procedure = std::move(proc);
    }
  }
  if (const auto* a = r.need("applicant")) {
    if (auto p = read_person(*a, "/applicant", errors)) d.applicant = std::move(*p);
  }
  if (const auto* a = r.get("recipient")) d.recipient = read_person(*a, "/recipient", errors);
  if (const auto* a = r.get("delivery_address")) d.delivery_address = read_address(*a, "/delivery_address", errors);
  if (const auto* a = r.get("pickup_address")) d.pickup_address = read_address(*a, "/pickup_address", errors);
  if (const auto* items = r.get("items")) {
    if (const auto* arr = items->if_array()) {
      if (arr->empty()) errors.add("/items", "must be omitted rather than empty");
      for (std::size_t i = 0; i < arr->size(); ++i) {
        ObjectReader ir((*arr)[i], "/items/" + std::to_string(i), errors);
        if (!ir.ok()) continue;
        Item it;
        it.name = ir.string("name", true).value_or("");
        it.quantity = ir.integer("quantity", true).value_or(1);
        it.original = ir.boolean("original", true).value_or(false);
        ir.finish();
        d.items.push_back(std::move(it));
      }
    } else {
      errors.add("/items", "must be an array");
    }
  }
  if (const auto* f = r.need("fees")) {
    ObjectReader fr(*f, "/fees", errors);
    d.fees.cod_amount = fr.integer("cod_amount", true).value_or(0);
    d.fees.postage_paid_by = fr.enumeration("postage_paid_by", false, parse_postage_payer, "recipient, agency");
    fr.finish();
  }
  if (const auto* dt = r.get("dates")) {
    ObjectReader dr(*dt, "/dates", errors);
    d.dates.ready_at = dr.time("ready_at");
    d.dates.due_at = dr.time("due_at");
    dr.finish();
  }
  d.note = r.string("note", false);
  if (const auto* s = r.need("source")) {
    ObjectReader sr(*s, "/source", errors);
    d.source.message_id = sr.string("message_id", false);
    if (auto f = sr.enumeration("format", true, parse_source_format, "xml, json")) d.source.format = *f;
    d.source.sha256 = sr.string("sha256", false);
    sr.finish();
  }
  d.received_at = r.time("received_at");
  d.status = r.string("status", false);
  d.route = r.string("route", false);
  r.finish();

  if (!errors.empty()) return errors;
  if (FieldErrors invalid = validate(d); !invalid.empty()) return invalid;
  return d;
}

// ---------------------------------------------------------------- pretty printing

namespace {

void pretty(std::string& out, const json::value& v, int indent) {
  const auto nl = [&](int n) {
    out += '\n';
    out.append(static_cast<std::size_t>(n) * 2, ' ');
  };
  switch (v.kind()) {
    case json::kind::object: {
      const auto& o = v.get_object();
      if (o.empty()) {
        out += "{}";
        return;
      }
      out += '{';
      bool first = true;
      for (const auto& kv : o) {
        if (!first) out += ',';
        first = false;
        nl(indent + 1);
        out += json::serialize(json::string_view(kv.key()));
        out += ": ";
        pretty(out, kv.value(), indent + 1);
      }
      nl(indent);
      out += '}';
      return;
    }
    case json::kind::array: {
      const auto& a = v.get_array();
      if (a.empty()) {
        out += "[]";
        return;
      }
      out += '[';
      bool first = true;
      for (const auto& e : a) {
        if (!first) out += ',';
        first = false;
        nl(indent + 1);
        pretty(out, e, indent + 1);
      }
      nl(indent);
      out += ']';
      return;
    }
    default:
      out += json::serialize(v);
  }
}

}  // namespace

std::string to_pretty_json(const json::value& v) {
  std::string out;
  pretty(out, v, 0);
  out += '\n';
  return out;
}

}  // namespace dh
