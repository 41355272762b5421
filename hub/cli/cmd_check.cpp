// `dossier-hub check`: golden tests for every mapping. Each valid sample must produce exactly its
// expected dossier(s), each invalid sample exactly its expected problem.
#include "adapters/registry.hpp"
#include "hub/cli/command.hpp"
#include "hub/cli/files.hpp"
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

struct Tally {
  int passed = 0;
  int failed = 0;
  int written = 0;
  std::vector<std::string> lines;  // details of failures
};

std::vector<fs::path> messages_in(const fs::path& dir) {
  std::vector<fs::path> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (!e.is_regular_file() || ends_with(name, kExpectedSuffix) || name == "README.md" || name[0] == '.') continue;
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
    if (write_missing) {
      std::ofstream(expected_file, std::ios::binary) << to_pretty_json(got);
      ++t.written;
      t.lines.push_back(expected_file.string() + ": written, review it before you commit");
      ++t.passed;
      return;
    }
    ++t.failed;
    t.lines.push_back(message.string() + ": no " + expected_file.filename().string() +
                      " beside it (run with --write-missing to create it, then review it)");
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

}  // namespace

int run_check(std::span<char*> args) {
  po::options_description options("Options");
  options.add_options()("samples", po::value<std::string>()->value_name("DIR"),
                        "samples folder (default: DIR/../samples)")(
      "agency", po::value<std::vector<std::string>>()->composing()->value_name("ID"),
      "check only this agency (repeatable)")(
      "write-missing", po::bool_switch(),
      "write the expected file of any sample that has none, from what the mapping produces now\n"
      "(never overwrites; review what it wrote before you commit)");
  po::options_description hidden;
  hidden.add_options()("dir", po::value<std::string>()->default_value("mappings"), "mappings folder");
  po::positional_options_description positional;
  positional.add("dir", 1);
  po::variables_map vm;
  int code = kExitOk;
  if (!parse_args(args, "check [DIR] [--samples DIR] [--agency ID]... [--write-missing]",
                  "Loads every mapping in DIR (default: mappings/) and runs each agency's samples\n"
                  "against their expected output: samples/<agency>/valid/<name>.<xml|json> must produce\n"
                  "exactly <name>.expected.json (the dossier, or an array for a batch), and\n"
                  "samples/<agency>/invalid/<name>.<xml|json> must be refused with exactly the problem in\n"
                  "<name>.expected.json. Prints one line per agency and a summary; exits 1 if anything\n"
                  "failed, 2 on usage errors. This is the integration engineer's test; CI runs it.",
                  options, positional, vm, code, &hidden))
    return code;

  const fs::path dir = vm["dir"].as<std::string>();
  const fs::path samples = vm.count("samples") ? fs::path(vm["samples"].as<std::string>()) : dir / ".." / "samples";
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

  int agencies = 0, agencies_failed = 0, passed = 0, failed = 0;
  for (const auto& file : files) {
    const std::string id = file.stem().string();
    if (!only.empty() && std::find(only.begin(), only.end(), id) == only.end()) continue;
    ++agencies;
    Tally t;
    std::optional<mapping::Mapping> m;
    try {
      m.emplace(mapping::Mapping::load(file, adapters::builtin()));
    } catch (const mapping::MappingError& e) {
      ++t.failed;
      t.lines.push_back(e.what());
    }
    int valid = 0, invalid = 0;
    if (m) {
      const auto valid_files = messages_in(samples / id / "valid");
      const auto invalid_files = messages_in(samples / id / "invalid");
      valid = static_cast<int>(valid_files.size());
      invalid = static_cast<int>(invalid_files.size());
      if (valid_files.empty()) {
        ++t.failed;
        t.lines.push_back((samples / id / "valid").string() + ": no valid samples: every mapping needs some");
      }
      for (const auto& f : valid_files) check_sample(*m, f, true, write_missing, t);
      for (const auto& f : invalid_files) check_sample(*m, f, false, write_missing, t);
    }
    passed += t.passed;
    failed += t.failed;
    if (t.failed) ++agencies_failed;
    std::cout << (t.failed ? "FAIL  " : "ok    ") << id << std::string(id.size() < 24 ? 24 - id.size() : 1, ' ')
              << valid << " valid, " << invalid << " invalid samples";
    if (t.failed) std::cout << ", " << t.failed << " failed";
    if (t.written) std::cout << ", " << t.written << " expected files written";
    std::cout << '\n';
    for (const auto& l : t.lines) std::cout << "      " << l << '\n';
  }
  if (agencies == 0) {
    std::cerr << "dossier-hub check: no mappings to check in " << dir.string() << '\n';
    return kExitUsage;
  }
  std::cout << agencies << " agencies (" << agencies_failed << " failing), samples: " << passed << " passed, " << failed
            << " failed\n";
  return failed == 0 ? kExitOk : kExitRefused;
}

}  // namespace dh::cli
