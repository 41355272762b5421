#include "hub/cli/status_report_file.hpp"

#include "hub/cli/files.hpp"
#include "hub/common/text.hpp"
#include "hub/dossier/status.hpp"

#include <boost/json.hpp>
#include <yaml-cpp/yaml.h>

#include <array>
#include <set>

namespace dh::cli {
namespace {

namespace json = boost::json;

// Every field of a report. The hub fills the first seven for every status change; the others only
// when it knows them.
struct Field {
  std::string_view name;
  bool required;
  std::optional<std::string> mapping::StatusReport::*text;  // null for status and event_time
};
constexpr std::array<Field, 10> kFields = {{
    {"status", true, nullptr},
    {"dossier_code", true, &mapping::StatusReport::dossier_code},
    {"hub_id", true, &mapping::StatusReport::hub_id},
    {"message_id", true, &mapping::StatusReport::message_id},
    {"organ_id", true, &mapping::StatusReport::organ_id},
    {"event_id", true, &mapping::StatusReport::event_id},
    {"event_time", true, nullptr},
    {"item_code", false, &mapping::StatusReport::item_code},
    {"post_office", false, &mapping::StatusReport::post_office},
    {"reason", false, &mapping::StatusReport::reason},
}};

std::string join(auto const& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + std::string(n.name);
  return out;
}

std::string_view kind_name(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return "a number";
    case json::kind::string:
      return "a string";
    case json::kind::array:
      return "an array";
    case json::kind::object:
      return "an object";
  }
  return "a value";
}

// "file:line:column: ", 1-based.
std::string at(const std::filesystem::path& file, std::size_t line, std::size_t column) {
  return file.string() + ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
}
std::string at(const std::filesystem::path& file, const YAML::Mark& m) {
  return at(file, static_cast<std::size_t>(m.line) + 1, static_cast<std::size_t>(m.column) + 1);
}

}  // namespace

std::optional<mapping::StatusReport> read_status_report(const std::filesystem::path& file,
                                                        std::vector<std::string>& errors) {
  const auto fail = [&](std::string line) {
    errors.push_back(std::move(line));
    return std::nullopt;
  };
  std::string error;
  const auto text = read_file(file, 1 << 20, error);
  if (!text) return fail(file.string() + ": " + error);
  if (auto bad = text::find_invalid_utf8(*text)) {
    const auto [l, c] = text::line_column(*text, *bad);
    return fail(at(file, l, c) + "not valid UTF-8");
  }

  // Strict JSON first (YAML would take much that JSON does not); the parser's stop is the place.
  json::stream_parser parser;
  boost::system::error_code ec;
  const std::size_t used = parser.write(text->data(), text->size(), ec);
  if (!ec) parser.finish(ec);
  if (ec) {
    const auto [l, c] = text::line_column(*text, used);
    return fail(at(file, l, c) + "not valid JSON: " + ec.message());
  }
  const json::value doc = parser.release();
  if (!doc.is_object()) return fail(at(file, 1, 1) + "a status report must be a JSON object");
  const json::object& o = doc.get_object();

  // The same text through yaml-cpp, which knows where each key and value stands (JSON is YAML).
  YAML::Node marks;
  try {
    marks = YAML::Load(*text);
  } catch (const YAML::Exception& e) {
    return fail(at(file, e.mark) + e.msg);
  }

  mapping::StatusReport r;
  std::set<std::string, std::less<>> seen;
  for (const auto& kv : marks) {
    const std::string key = kv.first.Scalar();
    const std::string where = at(file, kv.first.Mark());
    if (!seen.insert(key).second) {
      errors.push_back(where + "duplicate key '" + key + "'");
      continue;
    }
    const auto* f = std::find_if(kFields.begin(), kFields.end(), [&](const Field& x) { return x.name == key; });
    if (f == kFields.end()) {
      errors.push_back(where + "unknown key '" + key + "' (expected one of: " + join(kFields) + ")");
      continue;
    }
    const json::value& v = o.at(key);
    const std::string value_at = at(file, kv.second.Mark());
    if (!v.is_string()) {
      errors.push_back(value_at + key + " must be a string, not " + std::string(kind_name(v)));
      continue;
    }
    const std::string s(v.get_string());
    if (key == "status") {
      if (!parse_status(s)) {
        errors.push_back(value_at + "status '" + s + "' is not a hub status (expected one of: " + status_names() + ")");
        continue;
      }
      r.status = s;
    } else if (key == "event_time") {
      r.event_time = Timestamp::parse_rfc3339(s);
      if (!r.event_time)
        errors.push_back(value_at + "event_time '" + s +
                         "' is not an RFC 3339 date-time with its offset (2025-08-06T09:15:00+07:00)");
    } else if (s.empty()) {
      errors.push_back(value_at + key + " must not be empty (leave the key out when the hub does not know it)");
    } else {
      r.*(f->text) = s;
    }
  }
  std::string missing;
  for (const auto& f : kFields)
    if (f.required && !seen.contains(f.name)) missing += (missing.empty() ? "" : ", ") + std::string(f.name);
  if (!missing.empty())
    errors.push_back(at(file, 1, 1) + "missing " + missing + ": the hub fills these for every status change");
  if (!errors.empty()) return std::nullopt;
  return r;
}

}  // namespace dh::cli
