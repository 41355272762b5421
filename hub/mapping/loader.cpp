// Mapping::load: YAML -> compiled mapping. The only code on the mapping path that throws, and
// only MappingError with file:line:column. Unknown and duplicate keys are errors everywhere.
#include "hub/common/distinguished_name.hpp"
#include "hub/common/text.hpp"
#include "hub/common/yaml_error.hpp"
#include "hub/dossier/status.hpp"
#include "hub/mapping/model.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <initializer_list>
#include <regex>
#include <set>
#include <sstream>

namespace dh::mapping {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kLanguage = "dossier-hub/mapping/v1";
constexpr std::size_t kMaxMappingBytes = 4 * 1024 * 1024;

class Loader {
 public:
  Loader(fs::path file, const AdapterRegistry& adapters) : file_(std::move(file)), adapters_(adapters) {}

  std::unique_ptr<Mapping::Impl> load();
  std::unique_ptr<Mapping::Impl> compile(const std::string& content);

 private:
  // ---- error reporting
  [[noreturn]] void fail(const YAML::Mark& m, const std::string& msg) const {
    std::ostringstream os;
    os << file_.string();
    if (!m.is_null()) os << ':' << m.line + 1 << ':' << m.column + 1;
    os << ": " << msg;
    throw MappingError(os.str());
  }
  [[noreturn]] void fail(const YAML::Node& n, const std::string& msg) const { fail(n.Mark(), msg); }

  // ---- shape helpers
  void check_map(const YAML::Node& n, std::string_view what, std::initializer_list<std::string_view> allowed) const {
    if (!n.IsMap()) fail(n, std::string(what) + " must be a map");
    std::set<std::string> seen;
    for (const auto& kv : n) {
      const std::string key = kv.first.Scalar();
      if (!seen.insert(key).second) fail(kv.first, "duplicate key '" + key + "' in " + std::string(what));
      bool ok = false;
      for (auto a : allowed) ok = ok || a == key;
      if (!ok) {
        std::string list;
        for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
        fail(kv.first, "unknown key '" + key + "' in " + std::string(what) + " (expected one of: " + list + ")");
      }
    }
  }
  void check_unique_keys(const YAML::Node& n, std::string_view what) const {
    if (!n.IsMap()) fail(n, std::string(what) + " must be a map");
    std::set<std::string> seen;
    for (const auto& kv : n)
      if (!seen.insert(kv.first.Scalar()).second)
        fail(kv.first, "duplicate key '" + kv.first.Scalar() + "' in " + std::string(what));
  }
  std::string scalar(const YAML::Node& n, std::string_view what) const {
    if (!n.IsScalar()) fail(n, std::string(what) + " must be text");
    return n.Scalar();
  }
  std::string required_scalar(const YAML::Node& parent, std::string_view key, std::string_view what) const {
    const YAML::Node n = parent[std::string(key)];
    if (!n) fail(parent, std::string(what) + " needs '" + std::string(key) + "'");
    return scalar(n, std::string(what) + "." + std::string(key));
  }
  bool boolean(const YAML::Node& n, std::string_view what) const {
    const std::string s = scalar(n, what);
    if (s == "true") return true;
    if (s == "false") return false;
    fail(n, std::string(what) + " must be true or false");
  }
  // A YAML scalar as a Value: plain true/false are booleans, plain integers are integers, the
  // rest (and anything quoted) is text.
  Value value(const YAML::Node& n, std::string_view what) const {
    if (!n.IsScalar()) fail(n, std::string(what) + " must be a single value");
    const std::string& s = n.Scalar();
    if (!text::is_valid_utf8(s)) fail(n, std::string(what) + " is not valid UTF-8");
    if (n.Tag() == "?") {
      if (s == "true") return true;
      if (s == "false") return false;
      if (s == "~" || s == "null" || s.empty()) fail(n, std::string(what) + " must not be null");
      static const std::regex kInt("-?[0-9]+");
      if (std::regex_match(s, kInt) && s.size() < 18 && !(s.size() > 1 && s[0] == '0')) return std::stoll(s);
    }
    return text::to_nfc(s);
  }

  std::unique_ptr<CompiledPath> path(const YAML::Node& n, std::string_view what) const {
    const std::string expr = scalar(n, what);
    auto compiled = impl_->format->compile(expr);
    if (!compiled) fail(n, std::string(what) + ": " + compiled.error().message);
    return std::move(*compiled);
  }

  // ---- sections
  void load_agency(const YAML::Node& n);
  void load_identity(const YAML::Node& n);
  void load_format(const YAML::Node& n);
  void load_tables(const YAML::Node& n);
  void load_message(const YAML::Node& n, std::set<std::string>& names, bool last);
  void load_callback(const YAML::Node& n);
  void load_limits(const YAML::Node& n);
  std::vector<Condition> load_when(const YAML::Node& n);
  Condition load_condition(const YAML::Node& n);
  RuleSet load_rules(const YAML::Node& n, std::string_view what, bool in_items);
  FieldRule load_rule(const YAML::Node& key, const YAML::Node& n, Target target);
  std::vector<Transform> load_transforms(const YAML::Node& n, std::string_view what);
  Transform load_transform(const YAML::Node& n);

  fs::path file_;
  const AdapterRegistry& adapters_;
  std::unique_ptr<Mapping::Impl> impl_;
  std::map<std::string, const Table*, std::less<>> tables_;
};

std::unique_ptr<Mapping::Impl> Loader::load() {
  std::ifstream in(file_, std::ios::binary);
  if (!in) fail(YAML::Mark::null_mark(), "cannot read the file");
  std::string content;
  char buf[65536];
  while (in) {
    in.read(buf, sizeof buf);
    content.append(buf, static_cast<std::size_t>(in.gcount()));
    if (content.size() > kMaxMappingBytes) fail(YAML::Mark::null_mark(), "the file is larger than 4 MiB");
  }
  return compile(content);
}

std::unique_ptr<Mapping::Impl> Loader::compile(const std::string& content) {
  impl_ = std::make_unique<Mapping::Impl>();
  impl_->file = file_;
  impl_->agency_id = file_.stem().string();
  static const std::regex kId("[a-z0-9][a-z0-9-]*");
  if (file_.extension() != ".yaml" || !std::regex_match(impl_->agency_id, kId))
    fail(YAML::Mark::null_mark(), "a mapping file must be named <agency-id>.yaml with an id of a-z, 0-9 and '-'");

  if (content.size() > kMaxMappingBytes) fail(YAML::Mark::null_mark(), "the file is larger than 4 MiB");
  if (auto bad = text::find_invalid_utf8(content)) {
    fail(YAML::Mark::null_mark(), "not valid UTF-8 at byte " + std::to_string(*bad));
  }
  YAML::Node root;
  try {
    root = YAML::Load(content);
  } catch (const YAML::Exception& e) {
    const auto why = explain_yaml_error(content, e);
    YAML::Mark m;
    m.line = static_cast<int>(why.line) - 1;
    m.column = static_cast<int>(why.column) - 1;
    fail(m, why.message);
  }
  if (!root.IsMap()) fail(root, "a mapping file must be a YAML map");
  check_map(root, "the mapping",
            {"mapping", "agency", "identity", "format", "tables", "messages", "callback", "limits"});
  if (const std::string v = required_scalar(root, "mapping", "the mapping"); v != kLanguage)
    fail(root["mapping"], "unsupported mapping language '" + v + "' (this hub reads " + std::string(kLanguage) + ")");
  if (!root["agency"]) fail(root, "the mapping needs 'agency'");
  if (!root["identity"]) fail(root, "the mapping needs 'identity'");
  if (!root["format"]) fail(root, "the mapping needs 'format'");
  if (!root["messages"]) fail(root, "the mapping needs 'messages'");
  load_agency(root["agency"]);
  load_identity(root["identity"]);
  load_format(root["format"]);
  if (root["tables"]) load_tables(root["tables"]);

  const YAML::Node messages = root["messages"];
  if (!messages.IsSequence() || messages.size() == 0) fail(messages, "messages must be a non-empty list");
  std::set<std::string> names;
  for (std::size_t i = 0; i < messages.size(); ++i) load_message(messages[i], names, i + 1 == messages.size());
  if (root["callback"]) load_callback(root["callback"]);
  if (root["limits"]) load_limits(root["limits"]);
  return std::move(impl_);
}

void Loader::load_limits(const YAML::Node& n) {
  check_map(n, "limits", {"rate", "burst"});
  // A number in (least, 1000000] (rate) or [least, 1000000] (burst), else `why` at its place.
  auto number = [&](const YAML::Node& v, std::string_view what, double least, bool open, const char* why) {
    const std::string s = scalar(v, what);
    double x = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), x);
    if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(x) || x < least || (open && x == least) ||
        x > 1e6)
      fail(v, std::string(what) + why);
    return x;
  };
  if (!n["rate"]) fail(n, "limits needs 'rate' (requests per second for this agency)");
  RateLimit r;
  r.rate = number(n["rate"], "limits.rate", 0, true, " must be a number above 0 and at most 1000000 (per second)");
  r.burst = n["burst"] ? number(n["burst"], "limits.burst", 1, false, " must be a number from 1 to 1000000")
                       : std::max(1.0, 2 * r.rate);
  impl_->rate_limit = r;
}

void Loader::load_agency(const YAML::Node& n) {
  check_map(n, "agency", {"name", "organs"});
  impl_->agency_name = text::to_nfc(required_scalar(n, "name", "agency"));
  const YAML::Node organs = n["organs"];
  if (!organs) fail(n, "agency needs 'organs' (organ id -> name)");
  check_unique_keys(organs, "agency.organs");
  if (organs.size() == 0) fail(organs, "agency.organs must list at least one organ id");
  for (const auto& kv : organs) {
    Organ o{scalar(kv.first, "an organ id"), text::to_nfc(scalar(kv.second, "an organ name"))};
    if (text::is_blank(o.id) || text::is_blank(o.name)) fail(kv.first, "organ ids and names must not be empty");
    // QCVN 102 (Circular 10/2016/TT-BTTTT): levels 4.3.2.1, the first level a letter and two digits
    // (H provinces, G central bodies). The widths are those of every published example.
    static const std::regex kOrganId("[0-9]{3}\\.[0-9]{2}\\.[0-9]{2}\\.[A-Z][0-9]{2}");
    if (!std::regex_match(o.id, kOrganId))
      fail(kv.first, "organ id '" + o.id + "' is not a QCVN 102 organ id: ddd.dd.dd.Xdd, such as 000.00.12.H29");
    impl_->organs.push_back(std::move(o));
  }
}

void Loader::load_identity(const YAML::Node& n) {
  check_map(n, "identity", {"subject_cn", "san_uri", "san_dns", "issuer"});
  auto& id = impl_->identity;
  if (n["subject_cn"]) id.subject_cn = scalar(n["subject_cn"], "identity.subject_cn");
  if (n["san_uri"]) id.san_uri = scalar(n["san_uri"], "identity.san_uri");
  if (n["san_dns"]) id.san_dns = scalar(n["san_dns"], "identity.san_dns");
  if (!id.subject_cn && !id.san_uri && !id.san_dns)
    fail(n, "identity needs at least one of subject_cn, san_uri, san_dns");
  id.issuer = required_scalar(n, "issuer", "identity");
  auto dn = parse_dn(id.issuer);
  if (!dn) fail(n["issuer"], "identity.issuer: " + dn.error().message);
  id.issuer_dn = std::move(*dn);
}

void Loader::load_format(const YAML::Node& n) {
  check_map(n, "format", {"kind", "namespaces", "schema", "soap"});
  FormatSpec spec;
  spec.kind = required_scalar(n, "kind", "format");
  const AdapterKind* kind = adapters_.find(spec.kind);
  if (!kind) fail(n["kind"], "unknown adapter kind '" + spec.kind + "' (this hub has: " + adapters_.names() + ")");
  if (const YAML::Node ns = n["namespaces"]) {
    check_unique_keys(ns, "format.namespaces");
    for (const auto& kv : ns) spec.namespaces.emplace_back(scalar(kv.first, "a prefix"), scalar(kv.second, "a URI"));
  }
  if (const YAML::Node s = n["schema"]) {
    spec.schema = file_.parent_path() / scalar(s, "format.schema");
    if (!fs::exists(spec.schema)) fail(s, "schema file " + spec.schema.string() + " does not exist");
  }
  if (const YAML::Node s = n["soap"]) spec.soap = boolean(s, "format.soap");
  auto format = kind->make_format(spec);
  if (!format) fail(n, "format: " + format.error().message);
  impl_->format = std::move(*format);
  impl_->source_format = impl_->format->source_format();
}

void Loader::load_tables(const YAML::Node& n) {
  check_unique_keys(n, "tables");
  for (const auto& kv : n) {
    auto t = std::make_unique<Table>();
    t->name = scalar(kv.first, "a table name");
    check_unique_keys(kv.second, "table '" + t->name + "'");
    for (const auto& e : kv.second) t->entries.emplace(scalar(e.first, "a code"), value(e.second, "a table value"));
    tables_.emplace(t->name, t.get());
    impl_->tables.push_back(std::move(t));
  }
}

Transform Loader::load_transform(const YAML::Node& n) {
  Transform t;
  if (n.IsScalar()) {
    auto op = simple_transform(n.Scalar());
    if (!op) {
      const std::string& s = n.Scalar();
      if (s == "date" || s == "table" || s == "pad_left")
        fail(n, "transform '" + s + "' needs an option: {" + s + ": ...}");
      fail(n, "unknown transform '" + s + "' (expected one of: " + std::string(transform_names()) + ")");
    }
    t.op = *op;
    return t;
  }
  if (!n.IsMap() || n.size() == 0) fail(n, "a transform is a name or a one-key map such as {date: dd/MM/yyyy}");
  const std::string name = n.begin()->first.Scalar();
  if (name == "date") {
    check_map(n, "transform date", {"date"});
    t.op = Transform::Op::date;
    const YAML::Node p = n["date"];
    std::vector<YAML::Node> pats;
    if (p.IsSequence()) {
      for (const auto& e : p) pats.push_back(e);
    } else {
      pats.push_back(p);
    }
    if (pats.empty()) fail(p, "date needs at least one pattern");
    for (const auto& e : pats) {
      std::string err;
      auto dp = DatePattern::compile(scalar(e, "a date pattern"), err);
      if (!dp) fail(e, "date pattern: " + err);
      t.patterns.push_back(std::move(*dp));
    }
  } else if (name == "table") {
    check_map(n, "transform table", {"table", "otherwise"});
    t.op = Transform::Op::table;
    const std::string tn = scalar(n["table"], "table");
    auto it = tables_.find(tn);
    if (it == tables_.end()) {
      std::string list;
      for (const auto& [table_name, _] : tables_) list += (list.empty() ? "" : ", ") + table_name;
      fail(n["table"], "no table named '" + tn + "' in tables (" +
                           (list.empty() ? "there are none" : "expected one of: " + list) + ")");
    }
    t.table = it->second;
    if (n["otherwise"]) t.otherwise = value(n["otherwise"], "otherwise");
  } else if (name == "pad_left") {
    check_map(n, "transform pad_left", {"pad_left"});
    t.op = Transform::Op::pad_left;
    const Value w = value(n["pad_left"], "pad_left");
    const auto* wi = std::get_if<std::int64_t>(&w);
    if (!wi || *wi < 1 || *wi > 64) fail(n["pad_left"], "pad_left needs a width between 1 and 64");
    t.width = static_cast<std::size_t>(*wi);
  } else {
    fail(n, "unknown transform '" + name + "' (expected one of: " + std::string(transform_names()) + ")");
  }
  return t;
}

std::vector<Transform> Loader::load_transforms(const YAML::Node& n, std::string_view what) {
  std::vector<Transform> out;
  if (!n.IsSequence()) fail(n, std::string(what) + " must be a list of transforms");
  for (const auto& e : n) out.push_back(load_transform(e));
  return out;
}

FieldRule Loader::load_rule(const YAML::Node& key, const YAML::Node& n, Target target) {
  FieldRule r;
  r.target = target;
  const std::string what = "field '" + key.Scalar() + "'";
  if (n.IsScalar()) {  // shorthand: a path
    r.source.kind = Source::Kind::path;
    r.source.path = path(n, what);
    return r;
  }
  check_map(n, "field rule", {"path", "const", "concat", "default", "required", "transform"});
  const int sources = (n["path"] ? 1 : 0) + (n["const"] ? 1 : 0) + (n["concat"] ? 1 : 0);
  if (sources != 1) fail(n, what + " needs exactly one of path, const, concat");
  if (n["path"]) {
    r.source.path = path(n["path"], what);
  } else if (n["const"]) {
    r.source.kind = Source::Kind::constant;
    r.source.constant = value(n["const"], what + " const");
  } else {
    r.source.kind = Source::Kind::concat;
    const YAML::Node c = n["concat"];
    check_map(c, "concat", {"parts", "separator"});
    if (c["separator"]) r.source.separator = scalar(c["separator"], "concat.separator");
    const YAML::Node parts = c["parts"];
    if (!parts || !parts.IsSequence() || parts.size() == 0) fail(c, "concat needs a non-empty list of parts");
    for (const auto& p : parts) {
      ConcatPart part;
      if (p.IsScalar()) {
        part.literal = text::to_nfc(p.Scalar());
      } else {
        check_map(p, "concat part", {"path", "transform"});
        if (!p["path"]) fail(p, "a concat part is text or {path: P}");
        part.path = path(p["path"], what);
        if (p["transform"]) part.transforms = load_transforms(p["transform"], "transform");
      }
      r.source.parts.push_back(std::move(part));
    }
  }
  if (n["transform"]) r.transforms = load_transforms(n["transform"], what + " transform");
  // A constant goes through the transforms and a default does not; either must fit the field,
  // which is known now rather than at the first message that needs it.
  if (n["const"]) {
    Value v = r.source.constant;
    for (const auto& t : r.transforms) {
      auto tv = t.apply(std::move(v));
      if (!tv) fail(n["const"], what + " const: " + tv.error().message);
      v = std::move(*tv);
    }
    if (auto why = type_error(target, v)) fail(n["const"], what + " const " + *why);
  }
  if (n["default"]) {
    r.fallback = value(n["default"], what + " default");
    if (auto why = type_error(target, r.fallback)) fail(n["default"], what + " default " + *why);
  }
  if (n["required"]) r.required = boolean(n["required"], what + " required");
  return r;
}

RuleSet Loader::load_rules(const YAML::Node& n, std::string_view what, bool in_items) {
  RuleSet rs;
  check_unique_keys(n, what);
  for (const auto& kv : n) {
    const std::string name = kv.first.Scalar();
    if (name == "items" && !in_items) {
      const YAML::Node items = kv.second;
      check_map(items, "items", {"each", "fields"});
      if (!items["each"] || !items["fields"]) fail(items, "items needs 'each' and 'fields'");
      ItemsRule ir;
      ir.each = path(items["each"], "items.each");
      RuleSet inner = load_rules(items["fields"], "items.fields", true);
      ir.fields = std::move(inner.fields);
      bool has_name = false;
      for (const auto& f : ir.fields) has_name = has_name || f.target == Target::item_name;
      if (!has_name) fail(items["fields"], "items.fields needs a rule for 'name'");
      rs.items = std::move(ir);
      continue;
    }
    auto target = find_target(name, in_items);
    if (!target) {
      fail(kv.first, "'" + name + "' is not a field you can map" +
                         (in_items ? " in items (expected name, quantity, original)"
                                   : " (see docs/mappings.md, \"Fields you can map\")"));
    }
    rs.fields.push_back(load_rule(kv.first, kv.second, *target));
  }
  return rs;
}

Condition Loader::load_condition(const YAML::Node& n) {
  check_map(n, "a condition", {"path", "exists", "equals", "in"});
  Condition c;
  if (!n["path"]) fail(n, "a condition needs 'path'");
  c.path = path(n["path"], "when.path");
  const int ops = (n["exists"] ? 1 : 0) + (n["equals"] ? 1 : 0) + (n["in"] ? 1 : 0);
  if (ops != 1) fail(n, "a condition needs exactly one of exists, equals, in");
  if (n["exists"]) {
    c.op = boolean(n["exists"], "exists") ? Condition::Op::exists : Condition::Op::absent;
  } else if (n["equals"]) {
    c.op = Condition::Op::equals;
    c.values.push_back(text::to_nfc(scalar(n["equals"], "equals")));
  } else {
    c.op = Condition::Op::in;
    if (!n["in"].IsSequence() || n["in"].size() == 0) fail(n["in"], "'in' needs a non-empty list");
    for (const auto& v : n["in"]) c.values.push_back(text::to_nfc(scalar(v, "an 'in' value")));
  }
  return c;
}

std::vector<Condition> Loader::load_when(const YAML::Node& n) {
  std::vector<Condition> out;
  if (n.IsSequence() && n.size() == 0)
    fail(n, "when must not be an empty list (leave it out on the last type for a catch-all)");
  if (n.IsSequence()) {
    for (const auto& c : n) out.push_back(load_condition(c));
  } else {
    out.push_back(load_condition(n));
  }
  return out;
}

void Loader::load_message(const YAML::Node& n, std::set<std::string>& names, bool last) {
  check_map(n, "a message type", {"type", "when", "kind", "fields", "records"});
  MessageType m;
  m.name = required_scalar(n, "type", "a message type");
  if (!names.insert(m.name).second) fail(n["type"], "message type '" + m.name + "' is defined twice");
  if (n["when"]) {
    m.when = load_when(n["when"]);
  } else if (!last) {
    fail(n, "message type '" + m.name + "' has no 'when': only the last message type may be a catch-all");
  }
  const std::string kind = required_scalar(n, "kind", "a message type");
  auto k = parse_dossier_kind(kind);
  if (!k) fail(n["kind"], "unknown kind '" + kind + "' (expected one of: result_delivery, dossier_pickup)");
  m.kind = *k;
  if (n["fields"]) m.rules = load_rules(n["fields"], "fields", false);
  if (const YAML::Node r = n["records"]) {
    check_map(r, "records", {"each", "fields"});
    if (!r["each"] || !r["fields"]) fail(r, "records needs 'each' and 'fields'");
    Records rec;
    rec.each = path(r["each"], "records.each");
    rec.rules = load_rules(r["fields"], "records.fields", false);
    m.records = std::move(rec);
  }
  // The dossier's own required fields must have a rule somewhere.
  auto mapped = [&](auto pred) {
    for (const auto& f : m.rules.fields)
      if (pred(f.target)) return true;
    if (m.records)
      for (const auto& f : m.records->rules.fields)
        if (pred(f.target)) return true;
    return false;
  };
  for (Target t : {Target::dossier_code, Target::applicant_full_name}) {
    if (!mapped([t](Target x) { return x == t; }))
      fail(n, "message type '" + m.name + "' maps no " + std::string(info(t).name) + ", which every dossier needs");
  }
  const bool delivery = m.kind == DossierKind::result_delivery;
  const Target first = delivery ? Target::delivery_line : Target::pickup_line;
  const Target last_t = delivery ? Target::delivery_province_name : Target::pickup_province_name;
  if (!mapped([&](Target x) { return x >= first && x <= last_t; }))
    fail(n, "message type '" + m.name + "' maps no " + (delivery ? "delivery_address" : "pickup_address") +
                ", which a " + kind + " dossier needs");
  impl_->messages.push_back(std::move(m));
}

void Loader::load_callback(const YAML::Node& n) {
  check_map(n, "callback", {"url", "format", "soap", "soap_action", "statuses", "root", "fields"});
  Callback cb;
  cb.url = required_scalar(n, "url", "callback");
  if (cb.url.rfind("https://", 0) != 0) fail(n["url"], "callback.url must be an https:// URL");
  cb.format = impl_->format.get();
  cb.source_format = impl_->source_format;
  if (n["format"]) {
    const std::string kind = scalar(n["format"], "callback.format");
    auto sf = parse_source_format(kind);
    if (!sf) fail(n["format"], "unknown callback.format '" + kind + "' (expected one of: xml, json)");
    if (*sf != impl_->source_format) {
      const AdapterKind* k = adapters_.find(kind);
      if (!k) fail(n["format"], "no adapter kind '" + kind + "'");
      FormatSpec spec;
      spec.kind = kind;
      auto f = k->make_format(spec);
      if (!f) fail(n["format"], f.error().message);
      cb.own_format = std::move(*f);
      cb.format = cb.own_format.get();
      cb.source_format = *sf;
    }
  }
  const YAML::Node st = n["statuses"];
  if (!st || !st.IsSequence() || st.size() == 0) fail(n, "callback needs a non-empty list of statuses");
  for (const auto& s : st) {
    const std::string v = scalar(s, "a status");
    if (!parse_status(v)) fail(s, "unknown status '" + v + "' (expected one of: " + status_names() + ")");
    cb.statuses.push_back(v);
  }
  if (cb.source_format == SourceFormat::xml) {
    cb.root = required_scalar(n, "root", "callback (xml)");
    if (cb.root.find('/') != std::string::npos || cb.root.front() == '@')
      fail(n["root"], "callback.root is one element name");
    if (auto ok = cb.format->check_output_path(cb.root); !ok) fail(n["root"], "callback.root: " + ok.error().message);
  } else if (n["root"]) {
    fail(n["root"], "callback.root is for xml callbacks only");
  }
  if (n["soap"]) {
    if (cb.source_format != SourceFormat::xml) fail(n["soap"], "callback.soap is for xml callbacks only");
    const std::string v = scalar(n["soap"], "callback.soap");
    if (v == "1.1") {
      cb.envelope = Envelope::soap11;
    } else if (v == "1.2") {
      cb.envelope = Envelope::soap12;
    } else {
      fail(n["soap"], "unknown callback.soap '" + v + "' (expected one of: 1.1, 1.2)");
    }
  }
  if (n["soap_action"]) {
    if (cb.envelope == Envelope::none) fail(n["soap_action"], "callback.soap_action needs callback.soap");
    cb.soap_action = scalar(n["soap_action"], "callback.soap_action");
    // It becomes a header (1.1) or a media type parameter (1.2): visible ASCII, no quotes.
    const bool safe = !cb.soap_action.empty() && std::all_of(cb.soap_action.begin(), cb.soap_action.end(), [](char c) {
      return c > ' ' && c < 0x7f && c != '"' && c != '\\';
    });
    if (!safe)
      fail(n["soap_action"], "callback.soap_action must be a URI: visible ASCII, no spaces, quotes or backslashes");
  }
  const YAML::Node fields = n["fields"];
  if (!fields) fail(n, "callback needs 'fields'");
  check_unique_keys(fields, "callback.fields");
  static constexpr std::pair<std::string_view, ReportSource> kSources[] = {
      {"dossier_code", ReportSource::dossier_code},
      {"hub_id", ReportSource::hub_id},
      {"source.message_id", ReportSource::message_id},
      {"agency.organ_id", ReportSource::organ_id},
      {"status", ReportSource::status},
      {"item_code", ReportSource::item_code},
      {"event.id", ReportSource::event_id},
      {"event.time", ReportSource::event_time},
      {"event.reason", ReportSource::event_reason},
      {"post_office", ReportSource::post_office},
  };
  for (const auto& kv : fields) {
    CallbackField f;
    f.output = scalar(kv.first, "an output path");
    if (auto ok = cb.format->check_output_path(f.output); !ok) fail(kv.first, "output path: " + ok.error().message);
    auto source_name = [&](const YAML::Node& s) {
      const std::string name = scalar(s, "from");
      for (const auto& [k, v] : kSources)
        if (k == name) return v;
      std::string list;
      for (const auto& [k, v] : kSources) list += (list.empty() ? "" : ", ") + std::string(k);
      fail(s, "unknown callback source '" + name + "' (expected one of: " + list + ")");
    };
    const YAML::Node v = kv.second;
    if (v.IsScalar()) {
      f.from = source_name(v);
    } else {
      check_map(v, "callback field", {"from", "const", "transform", "date"});
      if ((v["from"] ? 1 : 0) + (v["const"] ? 1 : 0) != 1) fail(v, "a callback field needs exactly one of from, const");
      if (v["from"])
        f.from = source_name(v["from"]);
      else
        f.constant = scalar(v["const"], "const");
      if (v["transform"]) f.transforms = load_transforms(v["transform"], "transform");
      if (v["date"]) {
        std::string err;
        f.date = DatePattern::compile(scalar(v["date"], "date"), err);
        if (!f.date) fail(v["date"], "date pattern: " + err);
      }
    }
    // A status code table must know every status the agency asked for, or the first such change
    // would fail at run time instead of here.
    if (f.from == ReportSource::status) {
      for (const auto& t : f.transforms) {
        if (t.op != Transform::Op::table || t.otherwise) continue;
        for (const auto& wanted : cb.statuses)
          if (!t.table->entries.count(wanted))
            fail(kv.first, "table '" + t.table->name + "' has no entry for the status '" + wanted +
                               "' that callback.statuses lists");
      }
    }
    cb.fields.push_back(std::move(f));
  }
  impl_->callback = std::move(cb);
}

}  // namespace

Mapping Mapping::load(const fs::path& file, const AdapterRegistry& adapters) {
  Loader loader(file, adapters);
  return Mapping(loader.load());
}

Mapping Mapping::load_text(const std::string& yaml, const fs::path& file, const AdapterRegistry& adapters) {
  Loader loader(file, adapters);
  return Mapping(loader.compile(yaml));
}

}  // namespace dh::mapping
