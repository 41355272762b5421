// A compiled agency mapping (docs/mappings.md) and the two things it does: translate an agency
// message into canonical dossiers, and render a status report back in the agency's format.
// Loading compiles everything once (paths, tables, schemas) and is the only place that throws;
// translate() is pure, allocation-light, and safe to call from many threads at once.
#pragma once

#include "hub/common/distinguished_name.hpp"
#include "hub/common/result.hpp"
#include "hub/dossier/dossier.hpp"
#include "hub/mapping/format.hpp"
#include "hub/mapping/problem.hpp"
#include "hub/mapping/transform.hpp"

#include <boost/system/result.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace dh::mapping {

// Every load error names the file, line and column: "mappings/x.yaml:12:5: reason".
class MappingError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A canonical field a rule can write (docs/mappings.md, "Fields you can map").
enum class Target : std::uint8_t;
struct TargetInfo;

struct FieldRule;
struct RuleSet;
struct MessageType;
struct Callback;

struct Identity {
  std::optional<std::string> subject_cn;
  std::optional<std::string> san_uri;
  std::optional<std::string> san_dns;
  std::string issuer;
  DistinguishedName issuer_dn;  // `issuer`, parsed once at load: matched on every request
};

struct Organ {
  std::string id;
  std::string name;
};

// What the hub knows of a dossier when it reports a status change back to the agency.
struct StatusReport {
  std::string status;  // canonical status
  std::optional<std::string> dossier_code, hub_id, message_id, organ_id, item_code, event_id, reason, post_office;
  std::optional<Timestamp> event_time;
};

struct RenderedCallback {
  std::string url;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;  // besides Content-Type: SOAPAction for SOAP 1.1
  std::string body;
};

// The agency's own request rate (`limits` in its mapping), in place of the hub's default.
struct RateLimit {
  double rate = 0;   // requests per second, > 0
  double burst = 0;  // bucket size, >= 1
};

class Mapping {
 public:
  ~Mapping();
  Mapping(Mapping&&) noexcept;
  Mapping& operator=(Mapping&&) noexcept;

  // Loads and compiles a mapping file. Throws MappingError with file:line:column.
  static Mapping load(const std::filesystem::path& file, const AdapterRegistry& adapters);
  // The same from text already in memory; `file` names the agency and anchors relative paths.
  static Mapping load_text(const std::string& yaml, const std::filesystem::path& file, const AdapterRegistry& adapters);

  [[nodiscard]] const std::string& agency_id() const noexcept;
  [[nodiscard]] const std::string& agency_name() const noexcept;
  [[nodiscard]] const std::vector<Organ>& organs() const noexcept;
  [[nodiscard]] const Identity& identity() const noexcept;
  [[nodiscard]] const std::filesystem::path& file() const noexcept;
  [[nodiscard]] SourceFormat source_format() const noexcept;
  // nullopt: the hub's limits.agency_rate and agency_burst apply.
  [[nodiscard]] const std::optional<RateLimit>& rate_limit() const noexcept;
  [[nodiscard]] std::vector<std::string> message_types() const;

  struct Translation {
    std::string message_type;
    bool batch = false;  // the message type has `records`: the result is a list even with one
    std::vector<Dossier> dossiers;
  };
  // Parses, recognises, maps and validates one message. All or nothing: either every dossier of
  // the message is valid, or a Problem lists every failing field.
  [[nodiscard]] boost::system::result<Translation, Problem> translate(std::string_view body,
                                                                      const ParseLimits& limits = {}) const;

  // Whether the agency asked to be told about this canonical status.
  [[nodiscard]] bool reports(std::string_view status) const noexcept;
  // Renders the agency's status callback; nullopt when the mapping has no callback section.
  [[nodiscard]] Outcome<RenderedCallback> render_callback(const StatusReport& r) const;
  [[nodiscard]] bool has_callback() const noexcept;
  // The callback section's `url`; empty without one.
  [[nodiscard]] std::string_view callback_url() const noexcept;
  // The request headers a callback carries besides Content-Type (SOAP 1.1: SOAPAction).
  [[nodiscard]] std::vector<std::pair<std::string, std::string>> callback_headers() const;

  struct Impl;  // the compiled form (model.hpp), opaque to users

 private:
  explicit Mapping(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dh::mapping
