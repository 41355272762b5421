// `dossier-hub check`: golden tests for every mapping. Each valid sample must produce exactly its
// expected dossier(s), each invalid sample exactly its expected problem.
#include "adapters/registry.hpp"
#include "hub/cli/command.hpp"
#include "hub/cli/files.hpp"
#include "hub/cli/status_report_file.hpp"
#include "hub/edge/client_identity.hpp"
#include "hub/mapping/mapping.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <set>

namespace dh::cli {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr std::string_view kExpectedSuffix = ".expected.json";
// Files in the mappings folder that are data for the hub but not agency mappings.
const std::set<std::string> kNotMappings = {"routes.yaml"};

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

struct Tally {
  int passed = 0;
  int failed = 0;
  int written = 0;
  std::vector<std::string> lines;  // details of failures
};

// Lists where two JSON values differ, as JSON Pointers.
void diff(const json::value& want, const json::value& got, const std::string& path, std::vector<std::string>& out) {
  if (out.size() >= 12) return;
  if (want.kind() != got.kind() && !(want.is_number() && got.is_number() && want == got)) {
    out.push_back((path.empty() ? "/" : path) + ": expected " + json::serialize(want) + ", got " +
                  json::serialize(got));
    return;
  }
  if (const auto* wo = want.if_object()) {
    const auto& go = got.get_object();
    for (const auto& kv : *wo) {
      const std::string p = path + "/" + std::string(kv.key());
      if (const auto* gv = go.if_contains(kv.key()))
        diff(kv.value(), *gv, p, out);
      else
        out.push_back(p + ": expected " + json::serialize(kv.value()) + ", missing");
    }
    for (const auto& kv : go)
      if (!wo->contains(kv.key()))
        out.push_back(path + "/" + std::string(kv.key()) + ": not expected, got " + json::serialize(kv.value()));
    return;
  }
  if (const auto* wa = want.if_array()) {
    const auto& ga = got.get_array();
    if (wa->size() != ga.size())
      out.push_back((path.empty() ? "/" : path) + ": expected " + std::to_string(wa->size()) + " elements, got " +
                    std::to_string(ga.size()));
    for (std::size_t i = 0; i < std::min(wa->size(), ga.size()); ++i)
      diff((*wa)[i], ga[i], path + "/" + std::to_string(i), out);
    return;
  }
  if (want != got)
    out.push_back((path.empty() ? "/" : path) + ": expected " + json::serialize(want) + ", got " +
                  json::serialize(got));
}

// The sample messages in a folder: *.xml and *.json beside their *.expected.json. Anything else
// (but a README.md) is reported, so that a misnamed sample is never silently skipped.
std::vector<fs::path> messages_in(const fs::path& dir, Tally& t) {
  std::vector<fs::path> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (!e.is_regular_file() || ends_with(name, kExpectedSuffix) || name == "README.md" || name[0] == '.') continue;
    const auto ext = e.path().extension();
    if (ext != ".xml" && ext != ".json") {
      ++t.failed;
      t.lines.push_back(e.path().string() + ": not a sample: samples are <name>.xml or <name>.json");
      continue;
    }
    out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

fs::path expected_for(const fs::path& message) {
  return message.parent_path() / (message.stem().string() + std::string(kExpectedSuffix));
}

void check_sample(const mapping::Mapping& m, const fs::path& message, bool valid, bool write_missing, Tally& t) {
  std::string error;
  auto body = read_file(message, 64 * 1024 * 1024, error);
  if (!body) {
    ++t.failed;
    t.lines.push_back(message.string() + ": " + error);
    return;
  }
  auto r = m.translate(*body);
  json::value got;
  if (r) {
    if (r->batch) {
      json::array a;
      for (const auto& d : r->dossiers) a.push_back(to_json(d, HubFields::omit));
      got = std::move(a);
    } else {
      got = to_json(r->dossiers.front(), HubFields::omit);
    }
  } else {
    got = mapping::to_json(r.error());
  }
  if (valid != static_cast<bool>(r)) {
    ++t.failed;
    t.lines.push_back(message.string() + ": expected it to be " + (valid ? "accepted" : "refused") + ", but it was " +
                      (r ? "accepted" : "refused: " + r.error().errors.to_string()));
    return;
  }
  const fs::path expected_file = expected_for(message);
  if (!fs::exists(expected_file)) {
    if (write_missing && !valid) {
      std::ofstream(expected_file, std::ios::binary) << to_pretty_json(got);
      ++t.written;
      t.lines.push_back(expected_file.string() + ": written, review it before you commit");
      return;
    }
    ++t.failed;
    t.lines.push_back(message.string() + ": no " + expected_file.filename().string() + " beside it (" +
                      (valid ? "write the expected dossier by hand from docs/dossier.md: it is the check of the mapping"
                             : "run with --write-missing to create it, then review it") +
                      ")");
    return;
  }
  auto expected_text = read_file(expected_file, 64 * 1024 * 1024, error);
  boost::system::error_code ec;
  json::value expected = expected_text ? json::parse(*expected_text, ec) : json::value();
  if (!expected_text || ec) {
    ++t.failed;
    t.lines.push_back(expected_file.string() + ": not valid JSON" + (ec ? ": " + ec.message() : ""));
    return;
  }
  std::vector<std::string> differences;
  diff(expected, got, "", differences);
  if (differences.empty()) {
    ++t.passed;
    return;
  }
  ++t.failed;
  t.lines.push_back(message.string() + ": differs from " + expected_file.filename().string());
  for (const auto& d : differences) t.lines.push_back("    " + d);
}

// Where an expected text and the rendered one differ, line by line: the lines outside a longest
// common subsequence, each with its number in its own file, at most 20.
std::vector<std::string> line_diff(std::string_view want, std::string_view got) {
  auto lines = [](std::string_view s) {
    std::vector<std::string_view> out;
    while (!s.empty()) {
      const auto nl = s.find('\n');
      out.push_back(s.substr(0, nl));
      s = nl == std::string_view::npos ? std::string_view{} : s.substr(nl + 1);
    }
    return out;
  };
  const auto a = lines(want), b = lines(got);
  std::vector<std::string> out;
  if (a.size() > 2000 || b.size() > 2000) return {"(too long to compare line by line)"};
  // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
  std::vector<std::vector<std::uint16_t>> lcs(a.size() + 1, std::vector<std::uint16_t>(b.size() + 1, 0));
  for (std::size_t i = a.size(); i-- > 0;)
    for (std::size_t j = b.size(); j-- > 0;)
      lcs[i][j] =
          a[i] == b[j] ? static_cast<std::uint16_t>(lcs[i + 1][j + 1] + 1) : std::max(lcs[i + 1][j], lcs[i][j + 1]);
  std::size_t i = 0, j = 0;
  while ((i < a.size() || j < b.size()) && out.size() < 20) {
    if (i < a.size() && j < b.size() && a[i] == b[j]) {
      ++i, ++j;
    } else if (i < a.size() && (j == b.size() || lcs[i + 1][j] >= lcs[i][j + 1])) {
      out.push_back("expected line " + std::to_string(i + 1) + ": " + std::string(a[i]));
      ++i;
    } else {
      out.push_back("rendered line " + std::to_string(j + 1) + ": " + std::string(b[j]));
      ++j;
    }
  }
  if (out.empty()) out.push_back("(the same lines; the files differ in line endings or a final newline)");
  return out;
}

// JSON bodies are compared as JSON first (a one-line body has no lines to tell apart), then as text.
std::vector<std::string> body_diff(const std::string& want, const std::string& got, bool json_body) {
  if (json_body) {
    boost::system::error_code ew, eg;
    const json::value w = json::parse(want, ew), g = json::parse(got, eg);
    if (!ew && !eg) {
      std::vector<std::string> out;
      diff(w, g, "", out);
      if (!out.empty()) return out;
      return {"the same JSON, written differently: got " + got};
    }
  }
  return line_diff(want, got);
}

// Status callbacks: samples/<agency>/callbacks/<name>.report.json is a status report (what the
// hub knows when a dossier changes status); <name>.expected.xml or .json is the exact body the
// agency must receive. A report of a status the agency did not subscribe to has no expected file.
void check_callbacks(const mapping::Mapping& m, const fs::path& dir, bool write_missing, Tally& t) {
  if (!fs::is_directory(dir)) return;
  std::vector<fs::path> reports;
  for (const auto& e : fs::directory_iterator(dir))
    if (ends_with(e.path().filename().string(), ".report.json")) reports.push_back(e.path());
  std::sort(reports.begin(), reports.end());
  for (const auto& file : reports) {
    std::vector<std::string> errors;
    const auto report = read_status_report(file, errors);
    if (!report) {
      ++t.failed;
      t.lines.insert(t.lines.end(), errors.begin(), errors.end());
      continue;
    }
    const mapping::StatusReport& r = *report;
    const std::string stem = file.filename().string().substr(0, file.filename().string().size() - 12);
    const std::string ext = m.source_format() == SourceFormat::xml ? ".xml" : ".json";
    const fs::path expected = dir / (stem + ".expected" + ext);
    if (!m.reports(r.status)) {
      if (fs::exists(expected)) {
        ++t.failed;
        t.lines.push_back(file.string() + ": the agency does not subscribe to '" + r.status + "', yet " +
                          expected.filename().string() + " expects a callback");
      } else {
        ++t.passed;
      }
      continue;
    }
    auto body = m.render_callback(r);
    if (!body) {
      ++t.failed;
      t.lines.push_back(file.string() + ": " + body.error().message);
      continue;
    }
    if (!fs::exists(expected)) {
      if (write_missing) {
        std::ofstream(expected, std::ios::binary) << body->body;
        ++t.written;
        t.lines.push_back(expected.string() + ": written, review it before you commit");
      } else {
        ++t.failed;
        t.lines.push_back(file.string() + ": no " + expected.filename().string() + " beside it");
      }
      continue;
    }
    std::string error;
    auto want = read_file(expected, 1 << 20, error);
    if (!want) {
      ++t.failed;
      t.lines.push_back(expected.string() + ": " + error);
      continue;
    }
    if (*want == body->body) {
      ++t.passed;
      continue;
    }
    ++t.failed;
    t.lines.push_back(file.string() + ": the callback body differs from " + expected.filename().string() + ":");
    for (const auto& d : body_diff(*want, body->body, m.source_format() == SourceFormat::json))
      t.lines.push_back("    " + d);
  }
}

}  // namespace

int run_check(std::span<char*> args) {
  po::options_description options("Options");
  options.add_options()("samples", po::value<std::string>()->value_name("DIR"),
                        "samples folder (default: DIR/../samples)")(
      "certs", po::value<std::string>()->value_name("DIR"),
      "check each mapping's identity against DIR/<agency>.crt where one exists (default: DIR/../certs/dev)")(
      "agency", po::value<std::vector<std::string>>()->composing()->value_name("ID"),
      "check only this agency (repeatable)")(
      "write-missing", po::bool_switch(),
      "write the expected file of each invalid sample or callback report that has none, from what\n"
      "the mapping produces now (never overwrites; valid samples' dossiers are written by hand;\n"
      "review what it wrote before you commit)");
  po::options_description hidden;
  hidden.add_options()("dir", po::value<std::string>()->default_value("mappings"), "mappings folder");
  po::positional_options_description positional;
  positional.add("dir", 1);
  po::variables_map vm;
  int code = kExitOk;
  if (!parse_args(args, "check [DIR] [--samples DIR] [--certs DIR] [--agency ID]... [--write-missing]",
                  "Loads every mapping in DIR (default: mappings/) and checks each agency:\n"
                  "  samples/<agency>/valid/<name>.<xml|json> must produce exactly <name>.expected.json\n"
                  "    (the dossier, or an array of dossiers for a batch);\n"
                  "  samples/<agency>/invalid/<name>.<xml|json> must be refused with exactly the problem\n"
                  "    in <name>.expected.json;\n"
                  "  samples/<agency>/callbacks/<name>.report.json must render exactly the status callback\n"
                  "    body in <name>.expected.<xml|json>;\n"
                  "  the mapping's identity must match certs/dev/<agency>.crt when that file exists, and no\n"
                  "    two mappings may claim the same certificate.\n"
                  "Prints one line per agency and a summary; exits 1 if anything failed, 2 on usage\n"
                  "errors. This is the integration engineer's test; CI runs it.",
                  options, positional, vm, code, &hidden))
    return code;

  const fs::path dir = fs::path(vm["dir"].as<std::string>()).lexically_normal();
  const fs::path samples =
      (vm.count("samples") ? fs::path(vm["samples"].as<std::string>()) : dir / ".." / "samples").lexically_normal();
  const fs::path certs =
      (vm.count("certs") ? fs::path(vm["certs"].as<std::string>()) : dir / ".." / "certs" / "dev").lexically_normal();
  if (!fs::is_directory(dir)) {
    std::cerr << "dossier-hub check: " << dir.string() << " is not a folder\n";
    return kExitUsage;
  }
  std::vector<std::string> only;
  if (vm.count("agency")) only = vm["agency"].as<std::vector<std::string>>();
  const bool write_missing = vm["write-missing"].as<bool>();

  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && e.path().extension() == ".yaml" && !kNotMappings.count(name)) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& id : only) {
    if (std::none_of(files.begin(), files.end(), [&](const fs::path& f) { return f.stem() == id; })) {
      std::cerr << "dossier-hub check: no mapping " << (dir / (id + ".yaml")).string() << '\n';
      return kExitUsage;
    }
  }
  if (files.empty()) {
    std::cerr << "dossier-hub check: no mappings (*.yaml) in " << dir.string() << '\n';
    return kExitUsage;
  }

  // Load every mapping first: identities are checked across all of them.
  struct Agency {
    std::string id;
    std::optional<mapping::Mapping> mapping;
    Tally tally;
  };
  std::vector<Agency> agencies;
  for (const auto& file : files) {
    Agency a;
    a.id = file.stem().string();
    try {
      a.mapping.emplace(mapping::Mapping::load(file, adapters::builtin()));
    } catch (const mapping::MappingError& e) {
      ++a.tally.failed;
      a.tally.lines.push_back(e.what());
    }
    agencies.push_back(std::move(a));
  }
  for (std::size_t i = 0; i < agencies.size(); ++i) {
    for (std::size_t j = i + 1; j < agencies.size(); ++j) {
      if (!agencies[i].mapping || !agencies[j].mapping) continue;
      if (!edge::overlaps(agencies[i].mapping->identity(), agencies[j].mapping->identity())) continue;
      for (auto [a, b] : {std::pair{i, j}, std::pair{j, i}}) {
        ++agencies[a].tally.failed;
        agencies[a].tally.lines.push_back("identity: a certificate could belong to both " + agencies[a].id + " and " +
                                          agencies[b].id + ": the hub would refuse to start");
      }
    }
  }

  int checked = 0, agencies_failed = 0, passed = 0, failed = 0, written = 0;
  for (auto& a : agencies) {
    if (!only.empty() && std::find(only.begin(), only.end(), a.id) == only.end()) continue;
    ++checked;
    Tally& t = a.tally;
    int valid = 0, invalid = 0;
    if (a.mapping) {
      const auto& m = *a.mapping;
      if (const fs::path crt = certs / (a.id + ".crt"); fs::exists(crt)) {
        auto facts = edge::read_certificate(crt);
        if (!facts) {
          ++t.failed;
          t.lines.push_back("identity: " + facts.error().message);
        } else if (!edge::matches(m.identity(), *facts)) {
          ++t.failed;
          t.lines.push_back("identity: " + crt.string() + " does not match the mapping's identity section");
        } else {
          ++t.passed;
        }
      }
      const auto valid_files = messages_in(samples / a.id / "valid", t);
      const auto invalid_files = messages_in(samples / a.id / "invalid", t);
      valid = static_cast<int>(valid_files.size());
      invalid = static_cast<int>(invalid_files.size());
      if (valid_files.empty()) {
        ++t.failed;
        t.lines.push_back((samples / a.id / "valid").string() + ": no valid samples: every mapping needs some");
      }
      for (const auto& f : valid_files) check_sample(m, f, true, write_missing, t);
      for (const auto& f : invalid_files) check_sample(m, f, false, write_missing, t);
      check_callbacks(m, samples / a.id / "callbacks", write_missing, t);
    }
    passed += t.passed;
    failed += t.failed;
    written += t.written;
    if (t.failed) ++agencies_failed;
    std::cout << (t.failed ? "FAIL  " : "ok    ") << a.id << std::string(a.id.size() < 24 ? 24 - a.id.size() : 1, ' ')
              << valid << " valid, " << invalid << " invalid samples";
    if (t.failed) std::cout << ", " << t.failed << " failed";
    if (t.written) std::cout << ", " << t.written << " expected files written";
    std::cout << '\n';
    for (const auto& l : t.lines) std::cout << "      " << l << '\n';
  }
  std::cout << checked << " agencies (" << agencies_failed << " failing), checks: " << passed << " passed, " << failed
            << " failed";
  if (written) std::cout << ", " << written << " expected files written (not counted: review them)";
  std::cout << '\n';
  return failed == 0 ? kExitOk : kExitRefused;
}

}  // namespace dh::cli
