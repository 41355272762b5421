#include "adapters/xml/xml_adapter.hpp"

#include "hub/common/text.hpp"
#include "hub/mapping/transform.hpp"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlschemas.h>
#include <pugixml.hpp>

#include <algorithm>
#include <cstring>
#include <deque>
#include <mutex>
#include <sstream>

namespace dh::adapters {
namespace {

using mapping::CompiledPath;
using mapping::Document;
using mapping::NodeRef;
using mapping::Problem;
using mapping::ProblemType;
using mapping::Value;

constexpr std::string_view kSoap11 = "http://schemas.xmlsoap.org/soap/envelope/";
constexpr std::string_view kSoap12 = "http://www.w3.org/2003/05/soap-envelope";
// Prefixes given to namespaces the mapping does not declare. A leading '-' is not a valid NCName
// start, so no XPath can name them: an element in an unknown namespace matches only `*`.
constexpr std::string_view kUnknownPrefix = "-ns";
// More attributes than this on one element is not a real message (and would make the duplicate
// check quadratic).
constexpr std::size_t kMaxAttributes = 64;

Problem malformed(std::string reason) {
  return Problem::single(ProblemType::malformed_message, "", std::move(reason));
}

bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || static_cast<unsigned char>(c) >= 0x80;
}
bool is_name_char(char c) {
  return is_name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

// "line L, column C" of a byte offset, for parse errors (positions are not personal data).
std::string position(std::string_view body, std::size_t offset) {
  offset = std::min(offset, body.size());
  std::size_t line = 1, col = 1;
  for (std::size_t i = 0; i < offset; ++i) {
    if (body[i] == '\n') {
      ++line;
      col = 1;
    } else if ((static_cast<unsigned char>(body[i]) & 0xC0) != 0x80) {
      ++col;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(col);
}

// The characters XML 1.0 allows: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].
bool xml_char(std::uint32_t c) {
  return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) || (c >= 0xE000 && c <= 0xFFFD) ||
         (c >= 0x10000 && c <= 0x10FFFF);
}

// The first raw control character XML does not allow (below 0x20 but tab, LF, CR).
std::optional<std::size_t> find_control_char(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, p + i, 8);
    // Sets the high bit of every byte below 0x20 (the classic "has less than" test).
    if (((w - 0x2020202020202020ULL) & ~w & 0x8080808080808080ULL) == 0) continue;
    for (std::size_t k = i; k < i + 8; ++k)
      if (p[k] < 0x20 && p[k] != '\t' && p[k] != '\n' && p[k] != '\r') return k;
  }
  for (; i < s.size(); ++i)
    if (p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' && p[i] != '\r') return i;
  return std::nullopt;
}

// Checks the reference that starts with the '&' at `i`; sets `end` past its ';'.
std::optional<Problem> check_reference(std::string_view body, std::size_t i, std::size_t& end) {
  std::size_t j = i + 1;
  if (j < body.size() && body[j] == '#') {
    ++j;
    const bool hex = j < body.size() && body[j] == 'x';
    if (hex) ++j;
    const std::size_t digits_start = j;
    std::uint32_t value = 0;
    while (j < body.size() && j - digits_start < 8) {
      const char c = body[j];
      int d;
      if (c >= '0' && c <= '9')
        d = c - '0';
      else if (hex && c >= 'a' && c <= 'f')
        d = c - 'a' + 10;
      else if (hex && c >= 'A' && c <= 'F')
        d = c - 'A' + 10;
      else
        break;
      value = value * (hex ? 16u : 10u) + static_cast<std::uint32_t>(d);
      ++j;
    }
    if (j == digits_start || j >= body.size() || body[j] != ';')
      return malformed("a malformed character reference at " + position(body, i));
    if (!xml_char(value))
      return malformed("a character reference to a character XML does not allow, at " + position(body, i));
    end = j + 1;
    return std::nullopt;
  }
  while (j < body.size() && is_name_char(body[j])) ++j;
  const std::string_view name = body.substr(i + 1, j - i - 1);
  if (j < body.size() && body[j] == ';' &&
      (name == "lt" || name == "gt" || name == "amp" || name == "quot" || name == "apos")) {
    end = j + 1;
    return std::nullopt;
  }
  return malformed("an undeclared entity reference at " + position(body, i));
}

// A lexer over the markup, just enough to know what each '<' and '&' means: text, tags with
// quoted attribute values, comments, CDATA sections, processing instructions. It refuses any DTD
// (so no entity can be declared, expanded or fetched), entity references other than the five
// predefined ones, and character references to characters XML does not allow. Well-formedness
// beyond that is the parser's job.
std::optional<Problem> scan_markup(std::string_view body) {
  const std::size_t n = body.size();
  std::size_t next_lt = body.find('<'), next_amp = body.find('&');
  std::size_t i = body.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;  // a UTF-8 BOM is not text
  // Outside the root element only whitespace, comments and processing instructions may stand,
  // and only one root element: pugixml would silently accept (or drop) anything else.
  std::size_t depth = 0;
  bool root_done = false;
  auto outside_text_ok = [&](std::size_t from, std::size_t to) {
    for (std::size_t k = from; k < to; ++k) {
      const char c = body[k];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return false;
    }
    return true;
  };
  while (true) {
    if (next_lt != std::string_view::npos && next_lt < i) next_lt = body.find('<', i);
    if (next_amp != std::string_view::npos && next_amp < i) next_amp = body.find('&', i);
    if (depth == 0 && !outside_text_ok(i, std::min(std::min(next_lt, next_amp), n)))
      return malformed("text outside the root element, at " + position(body, i));
    if (next_amp < next_lt) {  // a reference in text
      std::size_t end;
      if (auto p = check_reference(body, next_amp, end)) return p;
      i = end;
      continue;
    }
    if (next_lt == std::string_view::npos) return std::nullopt;
    i = next_lt;
    const std::string_view at = body.substr(i);
    std::string_view close;
    const char kind = at.size() > 1 ? at[1] : '\0';  // most are tags: one comparison decides
    if (kind != '!' && kind != '?') {
      // a start or end tag: below
    } else if (at.substr(0, 4) == "<!--") {
      close = "-->";
    } else if (at.substr(0, 9) == "<![CDATA[") {
      if (depth == 0) return malformed("text outside the root element, at " + position(body, i));
      close = "]]>";
    } else if (at.substr(0, 2) == "<?") {
      close = "?>";
    } else if (at.substr(0, 9) == "<!DOCTYPE") {
      return malformed("a DTD (<!DOCTYPE>) is not allowed, at " + position(body, i));
    } else if (at.substr(0, 2) == "<!") {
      return malformed("a markup declaration is not allowed, at " + position(body, i));
    }
    if (!close.empty()) {
      const auto end = body.find(close, i + 2);
      if (end == std::string_view::npos) return std::nullopt;  // unterminated: the parser says where
      i = end + close.size();
      continue;
    }
    // A start or end tag: to its '>', with references checked inside quoted attribute values.
    const bool end_tag = kind == '/';
    if (!end_tag && depth == 0 && root_done) return malformed("a second root element, at " + position(body, i));
    // Jumps with memchr: to the tag's '>' unless a quote comes first; through each quoted value
    // to its closing quote, checking the value for '<' and references.
    ++i;
    const char* base = body.data();
    auto find = [&](char c, std::size_t from, std::size_t to) -> std::size_t {
      const void* p = from < to ? std::memchr(base + from, c, to - from) : nullptr;
      return p ? static_cast<std::size_t>(static_cast<const char*>(p) - base) : to;
    };
    while (i < n) {
      const std::size_t gt = find('>', i, n);
      const std::size_t q = std::min(find('"', i, gt), find('\'', i, gt));
      if (q == gt) {
        i = gt;
        break;
      }
      const std::size_t q2 = find(body[q], q + 1, n);
      if (q2 == n) {
        i = n;
        break;
      }
      if (const std::size_t lt = find('<', q + 1, q2); lt != q2)
        return malformed("a '<' inside an attribute value, at " + position(body, lt));
      for (std::size_t amp = find('&', q + 1, q2); amp != q2; amp = find('&', amp + 1, q2)) {
        std::size_t end;
        if (auto p = check_reference(body, amp, end)) return p;
      }
      i = q2 + 1;
    }
    if (i >= n) return std::nullopt;  // unterminated tag: the parser says where
    if (end_tag) {
      if (depth > 0 && --depth == 0) root_done = true;
    } else if (body[i - 1] == '/') {
      if (depth == 0) root_done = true;  // <root/>
    } else {
      ++depth;
    }
    ++i;
  }
}

// Checks before any parser sees the bytes.
std::optional<Problem> precheck(std::string_view body, const mapping::ParseLimits& limits) {
  if (body.size() > limits.max_bytes)
    return malformed("the message is larger than " + std::to_string(limits.max_bytes) + " bytes");
  if (body.empty()) return malformed("the message is empty");
  if (body.size() >= 2 && ((body[0] == '\xFF' && body[1] == '\xFE') || (body[0] == '\xFE' && body[1] == '\xFF')))
    return malformed("UTF-16 is not supported: send UTF-8");
  if (auto bad = text::find_invalid_utf8(body)) return malformed("not valid UTF-8 at " + position(body, *bad));
  if (const void* nul = std::memchr(body.data(), 0, body.size()))
    return malformed("a NUL byte at " +
                     position(body, static_cast<std::size_t>(static_cast<const char*>(nul) - body.data())));
  std::string_view rest = body;
  if (rest.substr(0, 3) == "\xEF\xBB\xBF") rest.remove_prefix(3);
  if (rest.substr(0, 5) == "<?xml") {
    const auto end = rest.find("?>");
    if (end == std::string_view::npos) return malformed("the XML declaration is not closed");
    const std::string_view decl = rest.substr(0, end);
    if (auto e = decl.find("encoding"); e != std::string_view::npos) {
      auto q = decl.find_first_of("\"'", e);
      if (q != std::string_view::npos) {
        auto q2 = decl.find(decl[q], q + 1);
        std::string enc(decl.substr(q + 1, q2 == std::string_view::npos ? 0 : q2 - q - 1));
        std::string lower = enc;
        std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
        if (lower != "utf-8" && lower != "utf8") {
          enc.erase(std::remove_if(enc.begin(), enc.end(), [](char c) { return !is_name_char(c); }), enc.end());
          return malformed("the declared encoding '" + enc.substr(0, 32) + "' is not supported: send UTF-8");
        }
      }
    }
  }
  if (auto c = find_control_char(body))
    return malformed("a control character XML does not allow, at " + position(body, *c));
  return scan_markup(body);
  return std::nullopt;
}

// ---------------------------------------------------------------- XPath prefixes

// The prefixes of the QNames in an XPath expression (outside string literals), so that a mapping
// cannot use a prefix it did not declare.
std::vector<std::string> xpath_prefixes(std::string_view e) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < e.size();) {
    const char c = e[i];
    if (c == '"' || c == '\'') {
      const auto end = e.find(c, i + 1);
      i = end == std::string_view::npos ? e.size() : end + 1;
      continue;
    }
    if (is_name_start(c) && (i == 0 || !is_name_char(e[i - 1]))) {
      std::size_t j = i;
      while (j < e.size() && is_name_char(e[j])) ++j;
      if (j + 1 < e.size() && e[j] == ':' && e[j + 1] != ':' && (is_name_start(e[j + 1]) || e[j + 1] == '*'))
        out.emplace_back(e.substr(i, j - i));
      i = j;
      continue;
    }
    ++i;
  }
  return out;
}

// ---------------------------------------------------------------- Document

class XmlDocument final : public Document {
 public:
  pugi::xml_document doc;

  NodeRef root() const override { return {doc.internal_object(), nullptr}; }

  Outcome<Value> value(NodeRef n) const override {
    if (n.aux) {
      pugi::xml_attribute a(static_cast<pugi::xml_attribute_struct*>(const_cast<void*>(n.aux)));
      return Value(std::string(a.value()));
    }
    pugi::xml_node node(static_cast<pugi::xml_node_struct*>(const_cast<void*>(n.node)));
    if (node.type() == pugi::node_pcdata || node.type() == pugi::node_cdata) return Value(std::string(node.value()));
    // The XPath string-value: every text descendant, in document order.
    pugi::xml_node first = node.first_child();
    if (first && !first.next_sibling() && (first.type() == pugi::node_pcdata || first.type() == pugi::node_cdata))
      return Value(std::string(first.value()));
    std::string out;
    for (pugi::xml_node cur = first; cur && cur != node;) {
      if (cur.type() == pugi::node_pcdata || cur.type() == pugi::node_cdata) out += cur.value();
      if (cur.first_child()) {
        cur = cur.first_child();
        continue;
      }
      while (cur != node && !cur.next_sibling()) cur = cur.parent();
      if (cur != node) cur = cur.next_sibling();
    }
    return Value(std::move(out));
  }
};

pugi::xml_node as_node(NodeRef r) {
  return pugi::xml_node(static_cast<pugi::xml_node_struct*>(const_cast<void*>(r.node)));
}

class XPath final : public CompiledPath {
 public:
  explicit XPath(pugi::xpath_query q) : query_(std::move(q)) {}

  NodeRef first(const Document&, NodeRef ctx) const override {
    const pugi::xpath_node n = query_.evaluate_node(as_node(ctx));
    return to_ref(n);
  }
  void all(const Document&, NodeRef ctx, std::vector<NodeRef>& out) const override {
    const pugi::xpath_node_set set = query_.evaluate_node_set(as_node(ctx));
    out.reserve(out.size() + set.size());
    for (const auto& n : set) out.push_back(to_ref(n));
  }

 private:
  static NodeRef to_ref(const pugi::xpath_node& n) {
    if (n.attribute()) return {n.parent().internal_object(), n.attribute().internal_object()};
    return {n.node().internal_object(), nullptr};
  }
  pugi::xpath_query query_;
};

// Most mapping paths are plain child steps ("/tp:A/tp:B/tp:C", "tp:B/@loai"). They are
// evaluated by walking children directly, which gives the same first match as XPath in document
// order at a fraction of the cost of the general XPath machinery. Anything else (predicates,
// axes, //, functions, wildcards) goes to pugixml's compiled XPath.
class ChildPath final : public CompiledPath {
 public:
  // nullopt when `expr` is not a plain child path.
  static std::optional<ChildPath> parse(std::string_view expr) {
    ChildPath p;
    if (!expr.empty() && expr.front() == '/') {
      p.absolute_ = true;
      expr.remove_prefix(1);
    }
    if (expr.empty()) return std::nullopt;
    while (true) {
      const auto slash = expr.find('/');
      std::string_view step = expr.substr(0, slash);
      const bool attr = !step.empty() && step.front() == '@';
      if (attr) {
        if (slash != std::string_view::npos) return std::nullopt;
        step.remove_prefix(1);
      }
      if (step.empty() || !is_name_start(step.front())) return std::nullopt;
      int colons = 0;
      for (char c : step) {
        if (c == ':')
          ++colons;
        else if (!is_name_char(c))
          return std::nullopt;
      }
      if (colons > 1 || step.back() == ':') return std::nullopt;
      if (attr)
        p.attribute_ = std::string(step);
      else
        p.steps_.emplace_back(step);
      if (slash == std::string_view::npos) break;
      expr.remove_prefix(slash + 1);
    }
    return p;
  }

  NodeRef first(const Document&, NodeRef ctx) const override {
    pugi::xml_node start = as_node(ctx);
    if (absolute_) start = start.root();
    return find(start, 0);
  }
  void all(const Document&, NodeRef ctx, std::vector<NodeRef>& out) const override {
    pugi::xml_node start = as_node(ctx);
    if (absolute_) start = start.root();
    collect(start, 0, out);
  }

 private:
  NodeRef leaf(pugi::xml_node n) const {
    if (attribute_.empty()) return {n.internal_object(), nullptr};
    pugi::xml_attribute a = n.attribute(attribute_.c_str());
    return a ? NodeRef{n.internal_object(), a.internal_object()} : NodeRef{};
  }
  // Depth-first in document order: the first match of the whole path, as XPath would give.
  NodeRef find(pugi::xml_node n, std::size_t depth) const {
    if (depth == steps_.size()) return leaf(n);
    for (pugi::xml_node c = n.child(steps_[depth].c_str()); c; c = c.next_sibling(steps_[depth].c_str())) {
      if (NodeRef r = find(c, depth + 1)) return r;
    }
    return {};
  }
  void collect(pugi::xml_node n, std::size_t depth, std::vector<NodeRef>& out) const {
    if (depth == steps_.size()) {
      if (NodeRef r = leaf(n)) out.push_back(r);
      return;
    }
    for (pugi::xml_node c = n.child(steps_[depth].c_str()); c; c = c.next_sibling(steps_[depth].c_str()))
      collect(c, depth + 1, out);
  }

  bool absolute_ = false;
  std::vector<std::string> steps_;
  std::string attribute_;
};

// ---------------------------------------------------------------- XSD (libxml2)

void ignore_generic_error(void*, const char*, ...) {}

// A reason for a libxml2 schema error that quotes no value from the message (values can be
// personal data, and a value can contain quotes, so no redaction by quote-pairing is safe).
// Errors about structure name only elements and attributes, and keep libxml2's words; errors
// about a value are rewritten from the facet that failed.
std::string safe_libxml_message(std::string msg) {
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  // libxml2 starts with "Element '{uri}Name': " or "Element '{uri}Name', attribute 'a': ".
  std::string subject;
  std::string rest = msg;
  if (rest.rfind("Element '", 0) == 0) {
    const auto close = rest.find("': ");
    const auto attr = rest.find("', attribute '");
    std::size_t end = close;
    if (attr != std::string::npos && attr < close) end = rest.find("': ", attr + 14);
    if (end != std::string::npos) {
      subject = rest.substr(0, end + 1);
      rest = rest.substr(end + 3);
    }
  }
  // Drop the namespace from '{urn:x}Name' in what is kept.
  auto strip_ns = [](std::string t) {
    for (std::size_t o; (o = t.find("'{")) != std::string::npos;) {
      const auto c = t.find('}', o);
      if (c == std::string::npos) break;
      t.erase(o + 1, c - o);
    }
    for (std::size_t o; (o = t.find(" {")) != std::string::npos;) {
      const auto c = t.find('}', o);
      if (c == std::string::npos) break;
      t.erase(o + 1, c - o);
    }
    return t;
  };
  const bool structural = rest.rfind("This element is not expected", 0) == 0 ||
                          rest.rfind("Missing child element", 0) == 0 || rest.rfind("The attribute '", 0) == 0 ||
                          rest.rfind("No matching global", 0) == 0 ||
                          rest.rfind("Character content other than whitespace is not allowed", 0) == 0 ||
                          rest.rfind("Element content is not allowed", 0) == 0;
  if (structural) return strip_ns(subject.empty() ? rest : subject + ": " + rest);
  std::string reason = "has a value the agency's schema does not allow";
  if (rest.rfind("[facet '", 0) == 0) {
    const auto end = rest.find("']");
    const std::string facet = end == std::string::npos ? "" : rest.substr(8, end - 8);
    if (!facet.empty() && std::all_of(facet.begin(), facet.end(), [](unsigned char c) { return std::isalpha(c); }))
      reason = "has a value that fails the schema's " + facet + " rule";
  } else if (rest.find("is not a valid value of the") != std::string::npos) {
    reason = "has a value that is not valid for its type in the agency's schema";
  }
  return strip_ns(subject.empty() ? reason : subject + ": " + reason);
}

// "/ThongBaoKetQua/NguoiNop/SoCCCD": local names from the validated element down, with [n] where
// siblings share a name. Prefixes are left out: they are whatever the agency chose.
std::string element_path(xmlNodePtr node, xmlNodePtr top) {
  std::vector<std::string> steps;
  for (xmlNodePtr n = node; n && n->type == XML_ELEMENT_NODE; n = n->parent) {
    std::string step = reinterpret_cast<const char*>(n->name);
    int index = 0, count = 0;
    if (n->parent) {
      for (xmlNodePtr s = n->parent->children; s; s = s->next) {
        if (s->type != XML_ELEMENT_NODE || !xmlStrEqual(s->name, n->name)) continue;
        ++count;
        if (s == n) index = count;
      }
    }
    if (count > 1) step += "[" + std::to_string(index) + "]";
    steps.push_back(std::move(step));
    if (n == top) break;
  }
  std::string out;
  for (auto it = steps.rbegin(); it != steps.rend(); ++it) out += "/" + *it;
  return out;
}

struct SchemaErrors {
  FieldErrors* errors;
  xmlNodePtr top = nullptr;
};

void collect_schema_error(void* ctx, xmlErrorPtr e) {
  auto* se = static_cast<SchemaErrors*>(ctx);
  if (!e || se->errors->errors.size() >= 20) return;
  std::string path;
  if (e->node && static_cast<xmlNodePtr>(e->node)->type == XML_ELEMENT_NODE)
    path = element_path(static_cast<xmlNodePtr>(e->node), se->top);
  std::string reason = safe_libxml_message(e->message ? e->message : "invalid");
  if (path.empty() && e->line > 0) reason = "line " + std::to_string(e->line) + ": " + reason;
  se->errors->add(path, reason);
}

class Xsd {
 public:
  static Outcome<std::unique_ptr<Xsd>> load(const std::filesystem::path& file) {
    FieldErrors errors;
    SchemaErrors se{&errors};
    xmlSchemaParserCtxtPtr pc = xmlSchemaNewParserCtxt(file.string().c_str());
    if (!pc) return make_error(std::string("cannot read the XSD"));
    xmlSchemaSetParserStructuredErrors(pc, collect_schema_error, &se);
    xmlSchemaPtr schema = xmlSchemaParse(pc);
    xmlSchemaFreeParserCtxt(pc);
    if (!schema) return make_error("the XSD " + file.filename().string() + " does not compile: " + errors.to_string());
    auto x = std::make_unique<Xsd>();
    x->schema_ = schema;
    return x;
  }
  ~Xsd() {
    if (schema_) xmlSchemaFree(schema_);
  }

  // Validates the whole document, or (SOAP) the first element inside the Body.
  std::optional<Problem> validate(std::string_view body, bool soap) const {
    xmlDocPtr doc = xmlReadMemory(body.data(), static_cast<int>(body.size()), nullptr, "UTF-8",
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc) return malformed("not well-formed XML");
    Problem p;
    p.type = ProblemType::schema_invalid;
    SchemaErrors se{&p.errors};
    xmlSchemaValidCtxtPtr vc = xmlSchemaNewValidCtxt(schema_);
    xmlSchemaSetValidStructuredErrors(vc, collect_schema_error, &se);
    int rc;
    if (soap) {
      xmlNodePtr payload = soap_payload(doc);
      se.top = payload;
      rc = payload ? xmlSchemaValidateOneElement(vc, payload) : -1;
    } else {
      se.top = xmlDocGetRootElement(doc);
      rc = xmlSchemaValidateDoc(vc, doc);
    }
    xmlSchemaFreeValidCtxt(vc);
    xmlFreeDoc(doc);
    if (rc == 0) return std::nullopt;
    if (p.errors.empty()) p.errors.add("", "does not follow the agency's XSD");
    return p;
  }

 private:
  static xmlNodePtr first_element(xmlNodePtr n) {
    for (; n; n = n->next)
      if (n->type == XML_ELEMENT_NODE) return n;
    return nullptr;
  }
  static xmlNodePtr soap_payload(xmlDocPtr doc) {
    xmlNodePtr env = xmlDocGetRootElement(doc);
    if (!env) return nullptr;
    for (xmlNodePtr c = first_element(env->children); c; c = first_element(c->next))
      if (xmlStrEqual(c->name, reinterpret_cast<const xmlChar*>("Body"))) return first_element(c->children);
    return nullptr;
  }
  xmlSchemaPtr schema_ = nullptr;
};

// ---------------------------------------------------------------- Format

class XmlFormat final : public mapping::Format {
 public:
  XmlFormat(const mapping::FormatSpec& spec, std::unique_ptr<Xsd> xsd) : soap_(spec.soap), xsd_(std::move(xsd)) {
    for (const auto& [prefix, uri] : spec.namespaces) {
      prefixes_.emplace_back(prefix, uri);
      by_uri_.emplace_back(uri, prefix);
    }
    // SOAP envelope elements get a private prefix unless the mapping declared the namespace.
    for (auto [uri, fallback] : {std::pair{kSoap11, "-s11"}, std::pair{kSoap12, "-s12"}}) {
      if (!prefix_for(uri)) by_uri_.emplace_back(std::string(uri), fallback);
    }
  }

  SourceFormat source_format() const noexcept override { return SourceFormat::xml; }

  Outcome<std::unique_ptr<CompiledPath>> compile(std::string_view expr) const override {
    for (const auto& p : xpath_prefixes(expr)) {
      if (p == "xml") continue;
      if (std::none_of(prefixes_.begin(), prefixes_.end(), [&](const auto& d) { return d.first == p; }))
        return make_error("XPath uses the prefix '" + p + "', which format.namespaces does not declare");
    }
    if (auto simple = ChildPath::parse(expr))
      return std::unique_ptr<CompiledPath>(std::make_unique<ChildPath>(*simple));
    try {
      pugi::xpath_query q(std::string(expr).c_str());
      if (q.return_type() != pugi::xpath_type_node_set) return make_error(std::string("the XPath must select nodes"));
      return std::unique_ptr<CompiledPath>(std::make_unique<XPath>(std::move(q)));
    } catch (const pugi::xpath_exception& e) {
      return make_error("XPath error at offset " + std::to_string(e.result().offset) + ": " + e.what());
    }
  }

  boost::system::result<std::unique_ptr<Document>, Problem> parse(std::string_view body,
                                                                  const mapping::ParseLimits& limits) const override {
    if (auto p = precheck(body, limits)) return *p;
    auto doc = std::make_unique<XmlDocument>();
    const unsigned flags = pugi::parse_default | pugi::parse_doctype;
    const pugi::xml_parse_result r = doc->doc.load_buffer(body.data(), body.size(), flags, pugi::encoding_utf8);
    if (!r) {
      return malformed(std::string("not well-formed XML at ") + position(body, static_cast<std::size_t>(r.offset)) +
                       ": " + r.description());
    }
    // pugixml is lenient where XML is not: exactly one root element, no text around it.
    int roots = 0;
    for (pugi::xml_node c = doc->doc.first_child(); c; c = c.next_sibling()) {
      if (c.type() == pugi::node_element)
        ++roots;
      else if (c.type() == pugi::node_pcdata || c.type() == pugi::node_cdata)
        return malformed("text outside the root element");
    }
    if (roots == 0) return malformed("the message has no root element");
    if (roots > 1) return malformed("the message has more than one root element");
    if (auto p = canonicalise(doc->doc, limits.max_depth)) return *p;
    if (soap_) {
      if (auto p = unwrap_soap(doc->doc)) return *p;
    }
    if (xsd_) {
      if (auto p = xsd_->validate(body, soap_)) return *p;
    }
    return std::unique_ptr<Document>(std::move(doc));
  }

  Outcome<void> check_output_path(std::string_view path) const override {
    if (path.empty()) return make_error(std::string("must not be empty"));
    std::size_t start = 0;
    while (start <= path.size()) {
      const auto end = std::min(path.find('/', start), path.size());
      std::string_view seg = path.substr(start, end - start);
      const bool attr = !seg.empty() && seg[0] == '@';
      if (attr) {
        if (end != path.size()) return make_error(std::string("an attribute must be the last step"));
        seg.remove_prefix(1);
      }
      if (auto err = check_qname(seg)) return make_error(*err);
      start = end + 1;
    }
    return {};
  }

  Outcome<std::string> render(std::string_view root, const std::vector<std::pair<std::string, Value>>& fields,
                              mapping::Envelope envelope) const override {
    pugi::xml_document doc;
    auto decl = doc.append_child(pugi::node_declaration);
    decl.append_attribute("version") = "1.0";
    decl.append_attribute("encoding") = "UTF-8";
    pugi::xml_node parent = doc;
    if (envelope != mapping::Envelope::none) {
      const std::string_view uri = envelope == mapping::Envelope::soap11 ? kSoap11 : kSoap12;
      const std::string prefix = envelope_prefix(uri);
      pugi::xml_node env = doc.append_child((prefix + ":Envelope").c_str());
      env.append_attribute(("xmlns:" + prefix).c_str()) = std::string(uri).c_str();
      parent = env.append_child((prefix + ":Body").c_str());
    }
    pugi::xml_node top = parent.append_child(std::string(root).c_str());
    std::vector<std::string> used;
    auto note_prefix = [&](std::string_view qname) {
      const auto colon = qname.find(':');
      if (colon == std::string_view::npos) return;
      const std::string p(qname.substr(0, colon));
      if (std::find(used.begin(), used.end(), p) == used.end()) used.push_back(p);
    };
    note_prefix(root);
    for (const auto& [path, value] : fields) {
      auto text = mapping::as_text(value);
      if (!text) return make_error("cannot write " + std::string(mapping::type_name(value)) + " at " + path);
      pugi::xml_node cur = top;
      std::size_t start = 0;
      while (true) {
        const auto end = std::min(path.find('/', start), path.size());
        const std::string seg = path.substr(start, end - start);
        if (seg[0] == '@') {
          note_prefix(seg.substr(1));
          cur.append_attribute(seg.substr(1).c_str()) = text->c_str();
          break;
        }
        note_prefix(seg);
        pugi::xml_node next = cur.child(seg.c_str());
        if (!next || end == path.size()) next = cur.append_child(seg.c_str());
        cur = next;
        if (end == path.size()) {
          cur.text() = text->c_str();
          break;
        }
        start = end + 1;
      }
    }
    for (const auto& p : used) {
      for (const auto& [prefix, uri] : prefixes_)
        if (prefix == p) top.append_attribute(("xmlns:" + p).c_str()) = uri.c_str();
    }
    std::ostringstream os;
    doc.save(os, "  ", pugi::format_indent, pugi::encoding_utf8);
    return os.str();
  }

 private:
  // The mapping's own prefix for the envelope namespace, else the first conventional one that
  // the mapping does not use for another namespace.
  std::string envelope_prefix(std::string_view uri) const {
    for (const auto& [prefix, u] : prefixes_)
      if (u == uri) return prefix;
    for (const char* p : {"soap", "soapenv", "env", "s"}) {
      if (std::none_of(prefixes_.begin(), prefixes_.end(), [&](const auto& d) { return d.first == p; })) return p;
    }
    return "soap-envelope";
  }

  std::optional<std::string> check_qname(std::string_view q) const {
    if (q.empty()) return std::string("an empty step");
    const auto colon = q.find(':');
    const std::string_view local = colon == std::string_view::npos ? q : q.substr(colon + 1);
    if (local.empty() || !is_name_start(local[0]) ||
        !std::all_of(local.begin(), local.end(), [](char c) { return is_name_char(c); }))
      return "'" + std::string(q) + "' is not an element name";
    if (colon != std::string_view::npos) {
      const std::string p(q.substr(0, colon));
      if (std::none_of(prefixes_.begin(), prefixes_.end(), [&](const auto& d) { return d.first == p; }))
        return "the prefix '" + p + "' is not declared in format.namespaces";
    }
    return std::nullopt;
  }

  const std::string* prefix_for(std::string_view uri) const {
    for (const auto& [u, p] : by_uri_)
      if (u == uri) return &p;
    return nullptr;
  }

  // Renames every element and attribute to "<mapping prefix>:<local>" after resolving its
  // namespace, so that compiled XPaths match by namespace URI whatever prefixes the agency used.
  // Checks the nesting depth on the way (iteratively: a hostile document cannot overflow a stack).
  std::optional<Problem> canonicalise(pugi::xml_document& doc, std::size_t max_depth) const {
    struct Binding {
      std::string prefix;  // "" for the default namespace
      std::string uri;
    };
    std::vector<Binding> scope;
    std::vector<std::string> unknown;  // URIs not in the mapping, numbered in order of appearance
    auto resolve = [&](std::string_view prefix) -> const std::string* {
      for (auto it = scope.rbegin(); it != scope.rend(); ++it)
        if (it->prefix == prefix) return &it->uri;
      return nullptr;
    };
    std::deque<std::string> unknown_prefixes;  // "-ns0", "-ns1", ... in step with `unknown` (stable)
    // The canonical prefix for a namespace URI: "" for none, the mapping's, or a private one.
    auto canonical_prefix = [&](const std::string& uri) -> std::string_view {
      if (uri.empty()) return {};
      if (const std::string* p = prefix_for(uri)) return *p;
      auto it = std::find(unknown.begin(), unknown.end(), uri);
      if (it == unknown.end()) {
        unknown_prefixes.push_back(std::string(kUnknownPrefix) + std::to_string(unknown.size()));
        it = unknown.insert(unknown.end(), uri);
      }
      return unknown_prefixes[static_cast<std::size_t>(it - unknown.begin())];
    };
    // Whether `name` already reads "<prefix>:<local>" (or "<local>" with no prefix): in the common
    // case the agency used the mapping's prefixes and nothing is renamed or allocated.
    auto already = [](std::string_view name, std::string_view prefix, std::string_view local) {
      if (prefix.empty()) return name == local;
      return name.size() == prefix.size() + 1 + local.size() && name.substr(0, prefix.size()) == prefix &&
             name[prefix.size()] == ':' && name.substr(prefix.size() + 1) == local;
    };
    std::string name_buf;
    // Depth-first, pre-order; the stack holds the ancestors' scope sizes.
    std::vector<std::pair<pugi::xml_node, std::size_t>> work;
    work.emplace_back(doc.document_element(), 1);
    std::vector<std::size_t> scope_at_depth{0};
    while (!work.empty()) {
      auto [node, depth] = work.back();
      work.pop_back();
      if (depth > max_depth)
        return malformed("the document nests deeper than " + std::to_string(max_depth) + " levels");
      scope_at_depth.resize(depth + 1);
      scope.resize(scope_at_depth[depth - 1]);
      for (pugi::xml_attribute a = node.first_attribute(); a; a = a.next_attribute()) {
        const std::string_view an = a.name();
        if (an == "xmlns")
          scope.push_back({"", a.value()});
        else if (an.substr(0, 6) == "xmlns:")
          scope.push_back({std::string(an.substr(6)), a.value()});
      }
      scope_at_depth[depth] = scope.size();
      const std::string_view qn = node.name();
      const auto colon = qn.find(':');
      std::string_view prefix = colon == std::string_view::npos ? std::string_view{} : qn.substr(0, colon);
      std::string_view local = colon == std::string_view::npos ? qn : qn.substr(colon + 1);
      const std::string* uri = resolve(prefix);
      if (!uri && !prefix.empty())
        return malformed("the namespace prefix '" + std::string(prefix) + "' is not declared");
      static const std::string kNone;
      const std::string_view cp = canonical_prefix(uri ? *uri : kNone);
      if (!already(qn, cp, local)) {
        name_buf.assign(cp);
        if (!cp.empty()) name_buf += ':';
        name_buf += local;
        node.set_name(name_buf.c_str());
      }
      for (pugi::xml_attribute a = node.first_attribute(); a; a = a.next_attribute()) {
        const std::string_view an = a.name();
        const auto ac = an.find(':');
        if (ac == std::string_view::npos || an.substr(0, ac) == "xmlns") continue;
        const std::string_view ap = an.substr(0, ac);
        if (ap == "xml") continue;
        const std::string* auri = resolve(ap);
        if (!auri) return malformed("the namespace prefix '" + std::string(ap) + "' is not declared");
        const std::string_view acp = canonical_prefix(*auri);
        if (!already(an, acp, an.substr(ac + 1))) {
          name_buf.assign(acp);
          if (!acp.empty()) name_buf += ':';
          name_buf += an.substr(ac + 1);
          a.set_name(name_buf.c_str());
        }
      }
      // Each attribute once per element (by expanded name, now that prefixes are canonical).
      std::size_t attributes = 0;
      for (pugi::xml_attribute a = node.first_attribute(); a; a = a.next_attribute()) {
        if (++attributes > kMaxAttributes)
          return malformed("an element has more than " + std::to_string(kMaxAttributes) + " attributes");
        for (pugi::xml_attribute b = a.next_attribute(); b; b = b.next_attribute())
          if (std::strcmp(a.name(), b.name()) == 0) return malformed("an element has the same attribute twice");
      }
      // Children in reverse so that the first child is processed first.
      for (pugi::xml_node c = node.last_child(); c; c = c.previous_sibling()) {
        if (c.type() == pugi::node_element) work.emplace_back(c, depth + 1);
      }
    }
    return std::nullopt;
  }

  // Makes the first element inside the SOAP Body the document element.
  std::optional<Problem> unwrap_soap(pugi::xml_document& doc) const {
    pugi::xml_node env = doc.document_element();
    std::string ns;
    for (auto [uri, fallback] : {std::pair{kSoap11, "-s11"}, std::pair{kSoap12, "-s12"}}) {
      const std::string* known = prefix_for(uri);
      const std::string p = known ? *known : std::string(fallback);
      if (std::string_view(env.name()) == p + ":Envelope") ns = p;
    }
    if (ns.empty()) return malformed("the message is not a SOAP 1.1 or 1.2 envelope");
    pugi::xml_node body;
    for (pugi::xml_node c = env.first_child(); c; c = c.next_sibling()) {
      if (c.type() != pugi::node_element) continue;
      const std::string_view name = c.name();
      if (name == ns + ":Body") {
        if (body) return malformed("the SOAP envelope has two Body elements");
        body = c;
      } else if (name != ns + ":Header") {
        return malformed("unexpected element in the SOAP envelope");
      }
    }
    if (!body) return malformed("the SOAP envelope has no Body");
    pugi::xml_node payload;
    for (pugi::xml_node c = body.first_child(); c; c = c.next_sibling()) {
      if (c.type() == pugi::node_element) {
        payload = c;
        break;
      }
    }
    if (!payload) return malformed("the SOAP Body is empty");
    if (std::string_view(payload.name()) == ns + ":Fault")
      return Problem::single(ProblemType::soap_fault, "",
                             "the SOAP Body carries a Fault, which is a reply, not a request");
    doc.append_move(payload);
    doc.remove_child(env);
    return std::nullopt;
  }

  std::vector<std::pair<std::string, std::string>> prefixes_;  // prefix -> uri, as declared
  std::vector<std::pair<std::string, std::string>> by_uri_;    // uri -> canonical prefix
  bool soap_;
  std::unique_ptr<Xsd> xsd_;
};

class XmlAdapter final : public mapping::AdapterKind {
 public:
  XmlAdapter() {
    static std::once_flag once;
    std::call_once(once, [] {
      xmlInitParser();
      // libxml2 must never print to stderr or reach the network on its own.
      xmlSetGenericErrorFunc(nullptr, ignore_generic_error);
    });
  }
  std::string_view name() const noexcept override { return "xml"; }

  Outcome<std::unique_ptr<mapping::Format>> make_format(const mapping::FormatSpec& spec) const override {
    for (const auto& [prefix, uri] : spec.namespaces) {
      if (prefix.empty() || !is_name_start(prefix[0]) ||
          !std::all_of(prefix.begin(), prefix.end(), [](char c) { return is_name_char(c); }))
        return make_error("'" + prefix + "' is not a valid namespace prefix");
      if (uri.empty()) return make_error("the namespace URI for '" + prefix + "' is empty");
      for (const auto& [other, other_uri] : spec.namespaces)
        if (other != prefix && other_uri == uri)
          return make_error("the prefixes '" + other + "' and '" + prefix +
                            "' name the same namespace: matching is by URI, so use one prefix");
    }
    std::unique_ptr<Xsd> xsd;
    if (!spec.schema.empty()) {
      auto x = Xsd::load(spec.schema);
      if (!x) return x.error();
      xsd = std::move(*x);
    }
    return std::unique_ptr<mapping::Format>(std::make_unique<XmlFormat>(spec, std::move(xsd)));
  }
};

}  // namespace

std::unique_ptr<mapping::AdapterKind> make_xml_adapter() {
  return std::make_unique<XmlAdapter>();
}

}  // namespace dh::adapters
