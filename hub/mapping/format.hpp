// The adapter-kind interface: what a message format engine (adapters/<kind>/) gives the mapping
// engine. A kind parses bytes into a Document and compiles path expressions that select nodes in
// it; the engine never sees pugixml or Boost.JSON types. Everything here is pure: no I/O after
// load, no clock, no global state, safe to share between threads once built.
#pragma once

#include "hub/common/result.hpp"
#include "hub/dossier/dossier.hpp"
#include "hub/mapping/problem.hpp"
#include "hub/mapping/value.hpp"

#include <boost/system/result.hpp>

#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dh::mapping {

// A node in a parsed message. What the two pointers mean is private to the kind that made it.
struct NodeRef {
  const void* node = nullptr;
  const void* aux = nullptr;
  explicit operator bool() const noexcept { return node != nullptr; }
};

class Document {
 public:
  virtual ~Document() = default;
  // The context for message-level rules.
  [[nodiscard]] virtual NodeRef root() const = 0;
  // The scalar value of a node: XML text content or attribute value; JSON string, number or boolean
  // (null is no value). A structure where a value is expected is an error (returned as text).
  [[nodiscard]] virtual Outcome<Value> value(NodeRef node) const = 0;
};

class CompiledPath {
 public:
  virtual ~CompiledPath() = default;
  // The first match in document order, or an empty NodeRef.
  [[nodiscard]] virtual NodeRef first(const Document& doc, NodeRef context) const = 0;
  // Every match in document order. For JSON, a path to an array gives its elements.
  virtual void all(const Document& doc, NodeRef context, std::vector<NodeRef>& out) const = 0;
};

// Hostile-input limits applied before and while parsing, whatever the mapping says.
struct ParseLimits {
  std::size_t max_bytes = 4 * 1024 * 1024;
  std::size_t max_depth = 64;
};

// How a rendered XML body travels: bare, or as the Body of a SOAP 1.1 or SOAP 1.2 envelope.
enum class Envelope { none, soap11, soap12 };

// The `format:` section of a mapping, kind-independent; a kind refuses options it does not have.
struct FormatSpec {
  std::string kind;
  std::vector<std::pair<std::string, std::string>> namespaces;  // prefix -> URI
  std::filesystem::path schema;                                 // empty: none
  bool soap = false;
};

// One agency's compiled format: built once per mapping at load.
class Format {
 public:
  virtual ~Format() = default;
  [[nodiscard]] virtual SourceFormat source_format() const noexcept = 0;
  // Compiles a path expression; the error says why and where in the expression.
  [[nodiscard]] virtual Outcome<std::unique_ptr<CompiledPath>> compile(std::string_view expression) const = 0;
  // Parses and (when the mapping has a schema) validates one message.
  [[nodiscard]] virtual boost::system::result<std::unique_ptr<Document>, Problem> parse(
      std::string_view body, const ParseLimits& limits) const = 0;

  // The reverse direction: renders a status report as a body of this format. `fields` are
  // (output path, value) in mapping order; `root` is the XML root element name (unused for JSON).
  // JSON keeps the value's type (a code table may give numbers); XML writes text, inside a SOAP
  // envelope's Body when `envelope` asks for one (the loader allows it for XML only).
  [[nodiscard]] virtual Outcome<std::string> render(std::string_view root,
                                                    const std::vector<std::pair<std::string, Value>>& fields,
                                                    Envelope envelope) const = 0;
  // Checks an output path of the callback section at load time.
  [[nodiscard]] virtual Outcome<void> check_output_path(std::string_view path) const = 0;
};

// A format engine: adapters/<kind>/. Stateless; listed in adapters/registry.cpp.
class AdapterKind {
 public:
  virtual ~AdapterKind() = default;
  [[nodiscard]] virtual std::string_view name() const noexcept = 0;
  // Builds the agency's Format. Called at load: may read the schema file; throws nothing, the
  // error names the offending option.
  [[nodiscard]] virtual Outcome<std::unique_ptr<Format>> make_format(const FormatSpec& spec) const = 0;
};

// The kinds a loader may use, by name.
class AdapterRegistry {
 public:
  void add(std::unique_ptr<AdapterKind> kind) { kinds_.push_back(std::move(kind)); }
  [[nodiscard]] const AdapterKind* find(std::string_view name) const noexcept {
    for (const auto& k : kinds_)
      if (k->name() == name) return k.get();
    return nullptr;
  }
  [[nodiscard]] std::string names() const {
    std::string out;
    for (const auto& k : kinds_) out += (out.empty() ? "" : ", ") + std::string(k->name());
    return out;
  }

 private:
  std::vector<std::unique_ptr<AdapterKind>> kinds_;
};

}  // namespace dh::mapping
