#include "adapters/json/json_adapter.hpp"

#include "hub/common/text.hpp"
#include "hub/mapping/transform.hpp"

#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <valijson/adapters/boost_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validator.hpp>

#include <cmath>
#include <fstream>
#include <sstream>

namespace dh::adapters {
namespace {

namespace json = boost::json;
using mapping::CompiledPath;
using mapping::Document;
using mapping::NodeRef;
using mapping::Problem;
using mapping::ProblemType;
using mapping::Value;

Problem malformed(std::string path, std::string reason) {
  return Problem::single(ProblemType::malformed_message, std::move(path), std::move(reason));
}

std::string escape_token(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
  return out;
}

// ---------------------------------------------------------------- parser

// A Boost.JSON basic_parser handler that builds the value like json::parser does, and also
// refuses duplicate keys, NUL characters in strings and numbers that do not fit, naming the path.
class StrictHandler {
 public:
  static constexpr std::size_t max_object_size = 100'000;
  static constexpr std::size_t max_array_size = 100'000;
  static constexpr std::size_t max_key_size = 1024;
  static constexpr std::size_t max_string_size = 1024 * 1024;

  json::value_stack st;
  std::string failure_path;
  std::string failure;

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }

  bool on_object_begin(boost::system::error_code&) {
    frames_.push_back({false, 0, {}, keys_.size()});
    return true;
  }
  bool on_object_end(std::size_t n, boost::system::error_code&) {
    keys_.resize(frames_.back().keys_start);
    frames_.pop_back();
    st.push_object(n);
    return value_done();
  }
  bool on_array_begin(boost::system::error_code&) {
    frames_.push_back({true, 0, {}, keys_.size()});
    return true;
  }
  bool on_array_end(std::size_t n, boost::system::error_code&) {
    frames_.pop_back();
    st.push_array(n);
    return value_done();
  }
  bool on_key_part(json::string_view s, std::size_t, boost::system::error_code&) {
    key_.append(s.data(), s.size());
    st.push_chars(s);
    return true;
  }
  bool on_key(json::string_view s, std::size_t, boost::system::error_code& ec) {
    key_.append(s.data(), s.size());
    Frame& f = frames_.back();
    f.key = key_;  // so that an error below names this key
    for (std::size_t i = f.keys_start; i < keys_.size(); ++i) {
      if (keys_[i] == key_) return fail(ec, "the key appears twice in one object");
    }
    if (key_.find('\0') != std::string::npos) return fail(ec, "a key contains a NUL character");
    keys_.push_back(key_);
    key_.clear();
    st.push_key(s);
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, boost::system::error_code&) {
    if (std::memchr(s.data(), 0, s.size())) nul_ = true;
    st.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, std::size_t, boost::system::error_code& ec) {
    if (nul_ || std::memchr(s.data(), 0, s.size())) {
      nul_ = false;
      return fail(ec, "the text contains a NUL character");
    }
    st.push_string(s);
    return value_done();
  }
  bool on_number_part(json::string_view, boost::system::error_code&) { return true; }
  bool on_int64(std::int64_t i, json::string_view, boost::system::error_code&) {
    st.push_int64(i);
    return value_done();
  }
  bool on_uint64(std::uint64_t u, json::string_view, boost::system::error_code& ec) {
    if (u > static_cast<std::uint64_t>(INT64_MAX)) return fail(ec, "the number is out of range");
    st.push_int64(static_cast<std::int64_t>(u));
    return value_done();
  }
  bool on_double(double d, json::string_view text, boost::system::error_code& ec) {
    // An integer literal too large for 64 bits arrives here: its digits would be lost.
    if (!std::isfinite(d) || text.find_first_of(".eE") == json::string_view::npos)
      return fail(ec, "the number is out of range");
    st.push_double(d);
    return value_done();
  }
  bool on_bool(bool b, boost::system::error_code&) {
    st.push_bool(b);
    return value_done();
  }
  bool on_null(boost::system::error_code&) {
    st.push_null();
    return value_done();
  }
  bool on_comment_part(json::string_view, boost::system::error_code&) { return true; }
  bool on_comment(json::string_view, boost::system::error_code&) { return true; }

  // The JSON Pointer of the value being read, for errors.
  std::string where() const {
    std::string out;
    for (const auto& f : frames_) {
      out += '/';
      out += f.array ? std::to_string(f.index) : escape_token(f.key);
    }
    return out;
  }

 private:
  struct Frame {
    bool array;
    std::size_t index;
    std::string key;
    std::size_t keys_start;
  };
  bool value_done() {
    if (!frames_.empty() && frames_.back().array) ++frames_.back().index;
    return true;
  }
  bool fail(boost::system::error_code& ec, const char* why) {
    failure = why;
    failure_path = where();
    ec = make_error_code(boost::system::errc::invalid_argument);
    return false;
  }
  std::vector<Frame> frames_;
  std::vector<std::string> keys_;  // keys of every open object, each object from its keys_start
  std::string key_;
  bool nul_ = false;
};

class JsonDocument final : public Document {
 public:
  // value_ uses the arena too, so that moving the parsed value in is a move, not a deep copy.
  JsonDocument() : arena_(buffer_, sizeof buffer_), value_(json::storage_ptr(&arena_)) {}
  unsigned char buffer_[8192];
  json::monotonic_resource arena_;  // declared before value_: outlives it
  json::value value_;
  NodeRef root() const override { return {&value_, nullptr}; }

  Outcome<Value> value(NodeRef n) const override {
    const auto& v = *static_cast<const json::value*>(n.node);
    switch (v.kind()) {
      case json::kind::string:
        return Value(std::string(v.get_string()));
      case json::kind::int64:
        return Value(v.get_int64());
      case json::kind::uint64:
        return Value(static_cast<std::int64_t>(v.get_uint64()));
      case json::kind::double_:
        return Value(v.get_double());
      case json::kind::bool_:
        return Value(v.get_bool());
      case json::kind::null:
        return Value{};
      case json::kind::object:
        return make_error(std::string("is an object where a value is expected"));
      case json::kind::array:
        return make_error(std::string("is an array where a value is expected"));
    }
    return Value{};
  }
};

class Pointer final : public CompiledPath {
 public:
  Pointer(std::vector<std::string> tokens, bool from_root) : tokens_(std::move(tokens)), from_root_(from_root) {}

  NodeRef first(const Document& doc, NodeRef ctx) const override {
    return {resolve(from_root_ ? doc.root() : ctx), nullptr};
  }
  void all(const Document& doc, NodeRef ctx, std::vector<NodeRef>& out) const override {
    const json::value* v = resolve(from_root_ ? doc.root() : ctx);
    if (!v || v->is_null()) return;  // null is no value: no records, no items
    if (const auto* a = v->if_array()) {
      for (const auto& e : *a) out.push_back({&e, nullptr});
    } else {
      out.push_back({v, nullptr});
    }
  }

 private:
  const json::value* resolve(NodeRef start) const {
    const auto* v = static_cast<const json::value*>(start.node);
    for (const auto& t : tokens_) {
      if (!v) return nullptr;
      if (const auto* o = v->if_object()) {
        v = o->if_contains(t);
      } else if (const auto* a = v->if_array()) {
        if (t.empty() || (t.size() > 1 && t[0] == '0') || t.find_first_not_of("0123456789") != std::string::npos)
          return nullptr;
        const std::size_t i = std::stoul(t);
        v = i < a->size() ? &(*a)[i] : nullptr;
      } else {
        return nullptr;
      }
    }
    return v;
  }
  std::vector<std::string> tokens_;
  bool from_root_;
};

// RFC 6901 tokens of a pointer ("" is the whole document).
Outcome<std::vector<std::string>> split_pointer(std::string_view p) {
  std::vector<std::string> tokens;
  if (p.empty()) return tokens;
  if (p[0] != '/') return make_error(std::string("a JSON Pointer starts with '/' (or is empty for the current value)"));
  std::size_t start = 1;
  while (true) {
    const auto end = std::min(p.find('/', start), p.size());
    std::string tok;
    for (std::size_t i = start; i < end; ++i) {
      if (p[i] != '~') {
        tok += p[i];
        continue;
      }
      if (i + 1 >= end || (p[i + 1] != '0' && p[i + 1] != '1'))
        return make_error(std::string("'~' must be followed by 0 or 1 in a JSON Pointer"));
      tok += p[i + 1] == '0' ? '~' : '/';
      ++i;
    }
    tokens.push_back(std::move(tok));
    if (end == p.size()) break;
    start = end + 1;
  }
  return tokens;
}

// ---------------------------------------------------------------- JSON Schema (valijson)

std::string redact_quotes(std::string s) {
  std::string out;
  bool in = false;
  for (char c : s) {
    if (c == '"') {
      if (!in) out += "(value)";
      in = !in;
      continue;
    }
    if (!in) out += c;
  }
  return out;
}

class JsonSchema {
 public:
  static Outcome<std::unique_ptr<JsonSchema>> load(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return make_error(std::string("cannot read the JSON Schema"));
    std::stringstream ss;
    ss << in.rdbuf();
    auto s = std::make_unique<JsonSchema>();
    boost::system::error_code ec;
    s->doc_ = json::parse(ss.str(), ec);
    if (ec) return make_error("the JSON Schema " + file.filename().string() + " is not valid JSON: " + ec.message());
    try {
      valijson::SchemaParser parser;
      valijson::adapters::BoostJsonAdapter adapter(s->doc_);
      parser.populateSchema(adapter, s->schema_);
    } catch (const std::exception& e) {
      return make_error("the JSON Schema " + file.filename().string() + " does not compile: " + e.what());
    }
    return s;
  }

  std::optional<Problem> validate(const json::value& v) const {
    // A Validator caches the regular expressions it compiles (by pattern text), so one per thread
    // is reused: compiling them per message costs a hundred times the validation itself.
    thread_local valijson::Validator validator;
    valijson::adapters::BoostJsonAdapter target(v);
    // Most messages are valid: a first pass without results stops at the first failure and builds
    // no error paths (about half the cost); only an invalid message is walked again for them.
    if (validator.validate(schema_, target, nullptr)) return std::nullopt;
    valijson::ValidationResults results;
    (void)validator.validate(schema_, target, &results);
    Problem p;
    p.type = ProblemType::schema_invalid;
    valijson::ValidationResults::Error e;
    while (results.popError(e) && p.errors.errors.size() < 20) {
      // valijson reports the failing leaf and then every enclosing schema; the leaf is enough.
      if (e.description.rfind("Failed to validate against schema associated with property", 0) == 0 ||
          e.description.rfind("Failed to validate item #", 0) == 0 ||
          e.description.rfind("Failed to validate against child schema", 0) == 0)
        continue;
      std::string path;
      for (const auto& c : e.context) {
        if (c == "<root>") continue;
        std::string seg = c;
        if (seg.size() >= 2 && seg.front() == '[' && seg.back() == ']') seg = seg.substr(1, seg.size() - 2);
        if (seg.size() >= 2 && seg.front() == '"' && seg.back() == '"') seg = seg.substr(1, seg.size() - 2);
        path += "/" + escape_token(seg);
      }
      p.errors.add(path, redact_quotes(e.description));
    }
    if (p.errors.empty()) p.errors.add("", "does not follow the agency's JSON Schema");
    return p;
  }

 private:
  json::value doc_;
  valijson::Schema schema_;
};

// ---------------------------------------------------------------- Format

class JsonFormat final : public mapping::Format {
 public:
  explicit JsonFormat(std::unique_ptr<JsonSchema> schema) : schema_(std::move(schema)) {}

  SourceFormat source_format() const noexcept override { return SourceFormat::json; }

  Outcome<std::unique_ptr<CompiledPath>> compile(std::string_view expr) const override {
    bool from_root = false;
    if (!expr.empty() && expr[0] == '$') {
      from_root = true;
      expr.remove_prefix(1);
    }
    auto tokens = split_pointer(expr);
    if (!tokens) return tokens.error();
    return std::unique_ptr<CompiledPath>(std::make_unique<Pointer>(std::move(*tokens), from_root));
  }

  boost::system::result<std::unique_ptr<Document>, Problem> parse(std::string_view body,
                                                                  const mapping::ParseLimits& limits) const override {
    if (body.size() > limits.max_bytes)
      return malformed("", "the message is larger than " + std::to_string(limits.max_bytes) + " bytes");
    if (body.substr(0, 3) == "\xEF\xBB\xBF") body.remove_prefix(3);  // a UTF-8 BOM, as for XML
    if (body.size() >= 2 && (body[0] == '\xFF' || body[0] == '\xFE'))
      return malformed("", "UTF-16 is not supported: send UTF-8");
    // Boost.JSON checks UTF-8 too, but says only "syntax error": say what and where.
    if (auto bad = text::find_invalid_utf8(body))
      return malformed("", "not valid UTF-8 at byte " + std::to_string(*bad));
    json::parse_options opt;
    opt.max_depth = limits.max_depth;
    opt.allow_comments = false;
    opt.allow_trailing_commas = false;
    opt.allow_invalid_utf8 = false;
    json::basic_parser<StrictHandler> p(opt);
    boost::system::error_code ec;
    auto doc = std::make_unique<JsonDocument>();
    // The value lives in the document's own arena: one allocation for a typical message.
    p.handler().st.reset(json::storage_ptr(&doc->arena_));
    const std::size_t n = p.write_some(false, body.data(), body.size(), ec);
    if (!ec && n < body.size()) ec = json::error::extra_data;
    if (ec) {
      auto& h = p.handler();
      if (!h.failure.empty()) return malformed(h.failure_path, h.failure);
      if (ec == json::error::too_deep)
        return malformed("", "the document nests deeper than " + std::to_string(limits.max_depth) + " levels");
      return malformed("", "not well-formed JSON at byte " + std::to_string(n) + ": " + ec.message());
    }
    doc->value_ = p.handler().st.release();
    if (!doc->value_.is_object() && !doc->value_.is_array())
      return malformed("", "the message must be a JSON object or array");
    if (schema_) {
      if (auto prob = schema_->validate(doc->value_)) return *prob;
    }
    return std::unique_ptr<Document>(std::move(doc));
  }

  Outcome<void> check_output_path(std::string_view path) const override {
    auto t = split_pointer(path);
    if (!t) return t.error();
    if (t->empty()) return make_error(std::string("an output path must name a property"));
    return {};
  }

  Outcome<std::string> render(std::string_view, const std::vector<std::pair<std::string, Value>>& fields,
                              mapping::Envelope) const override {
    json::object root;
    for (const auto& [path, value] : fields) {
      auto tokens = split_pointer(path);
      if (!tokens || tokens->empty()) return make_error("bad output path " + path);
      json::object* cur = &root;
      for (std::size_t i = 0; i + 1 < tokens->size(); ++i) {
        json::value& next = (*cur)[(*tokens)[i]];
        if (!next.is_object()) next = json::object();
        cur = &next.as_object();
      }
      json::value out;
      if (const auto* s = std::get_if<std::string>(&value))
        out = *s;
      else if (const auto* i = std::get_if<std::int64_t>(&value))
        out = *i;
      else if (const auto* b = std::get_if<bool>(&value))
        out = *b;
      else if (auto t = mapping::as_text(value))
        out = *t;
      (*cur)[tokens->back()] = std::move(out);
    }
    return json::serialize(root);
  }

 private:
  std::unique_ptr<JsonSchema> schema_;
};

class JsonAdapter final : public mapping::AdapterKind {
 public:
  std::string_view name() const noexcept override { return "json"; }

  Outcome<std::unique_ptr<mapping::Format>> make_format(const mapping::FormatSpec& spec) const override {
    if (!spec.namespaces.empty()) return make_error("namespaces are for the xml kind only");
    if (spec.soap) return make_error("soap is for the xml kind only");
    std::unique_ptr<JsonSchema> schema;
    if (!spec.schema.empty()) {
      auto s = JsonSchema::load(spec.schema);
      if (!s) return s.error();
      schema = std::move(*s);
    }
    return std::unique_ptr<mapping::Format>(std::make_unique<JsonFormat>(std::move(schema)));
  }
};

}  // namespace

std::unique_ptr<mapping::AdapterKind> make_json_adapter() {
  return std::make_unique<JsonAdapter>();
}

}  // namespace dh::adapters
