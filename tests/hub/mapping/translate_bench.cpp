// Benchmark (not a test): full translation rate per agency, beside the parse-only rate of the
// same bytes by the bare parser (pugixml or Boost.JSON alone) measured in the same run: the
// physical limit of this machine for that message. One thread, so figures are per core.
//
//   build/release/tests/translate_bench [--seconds S] [--runs N] [--only TEXT] [--translate-only]
//
// --only runs the cases whose label contains TEXT; --translate-only skips the parser baseline
// (for profiling translation alone under perf or callgrind).
//
// Prints the median of N runs. The machine is shared and noisy: compare ratios, not absolutes.
#include "adapters/registry.hpp"
#include "hub/mapping/mapping.hpp"

#include <boost/json.hpp>
#include <pugixml.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> valid_samples(const std::string& agency) {
  std::vector<std::string> out;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(fs::path(DH_SOURCE_DIR) / "samples" / agency / "valid")) {
    const std::string name = e.path().filename().string();
    if (name.find(".expected.") == std::string::npos) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) out.push_back(slurp(f));
  return out;
}

// Runs `one(i)` over the messages round robin for `seconds`; returns messages per second.
template <class Fn>
double rate(double seconds, std::size_t n_messages, Fn&& one) {
  std::size_t done = 0;
  const auto start = Clock::now();
  const auto until = start + std::chrono::duration<double>(seconds);
  auto now = start;
  while (now < until) {
    for (std::size_t k = 0; k < 64; ++k) one((done + k) % n_messages);
    done += 64;
    now = Clock::now();
  }
  return static_cast<double>(done) / std::chrono::duration<double>(now - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

volatile std::size_t sink;  // keeps the optimiser from dropping the work

}  // namespace

int main(int argc, char** argv) {
  double seconds = 1.0;
  int runs = 5;
  std::string only;
  bool translate_only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--translate-only")
      translate_only = true;
    else if (i + 1 < argc && a == "--seconds")
      seconds = std::stod(argv[++i]);
    else if (i + 1 < argc && a == "--runs")
      runs = std::stoi(argv[++i]);
    else if (i + 1 < argc && a == "--only")
      only = argv[++i];
    else {
      std::fprintf(stderr, "usage: translate_bench [--seconds S] [--runs N] [--only TEXT] [--translate-only]\n");
      return 2;
    }
  }
  struct Case {
    std::string label;
    std::string agency;
    bool drop_schema;
  };
  const std::vector<Case> cases = {
      {"hcm-justice", "hcm-justice", false},
      {"hcm-justice (no XSD)", "hcm-justice", true},
      {"hcm-social-insurance", "hcm-social-insurance", false},
      {"hcm-social-insurance (no XSD)", "hcm-social-insurance", true},
      {"hcm-binh-thanh", "hcm-binh-thanh", false},
      {"hcm-immigration", "hcm-immigration", false},
      {"hcm-immigration (no schema)", "hcm-immigration", true},
      {"hcm-ward-lgsp", "hcm-ward-lgsp", false},
  };
  std::printf("translate_bench: %d runs of %.1fs each, median, one thread (per core)\n", runs, seconds);
  std::printf("%-31s %5s %7s %12s %12s %7s %9s\n", "agency", "kind", "bytes", "translate/s", "parse/s", "ratio",
              "dossiers/s");
  for (const auto& c : cases) {
    if (!only.empty() && c.label.find(only) == std::string::npos) continue;
    const fs::path file = fs::path(DH_SOURCE_DIR) / "mappings" / (c.agency + ".yaml");
    std::string yaml = slurp(file);
    if (c.drop_schema) {
      std::string out;
      std::istringstream in(yaml);
      for (std::string line; std::getline(in, line);)
        if (line.find("schema:") == std::string::npos || line.find("  schema:") != 0) out += line + "\n";
      yaml = out;
    }
    const auto m = dh::mapping::Mapping::load_text(yaml, file, dh::adapters::builtin());
    const auto messages = valid_samples(c.agency);
    std::size_t bytes = 0, dossiers = 0;
    for (const auto& msg : messages) {
      bytes += msg.size();
      auto r = m.translate(msg);
      if (!r) {
        std::fprintf(stderr, "%s: a valid sample was refused: %s\n", c.label.c_str(),
                     r.error().errors.to_string().c_str());
        return 1;
      }
      dossiers += r->dossiers.size();
    }
    const bool xml = m.source_format() == dh::SourceFormat::xml;
    std::vector<double> translate_rates, parse_rates;
    for (int run = 0; run < runs; ++run) {
      translate_rates.push_back(rate(seconds, messages.size(), [&](std::size_t i) {
        auto r = m.translate(messages[i]);
        sink = r ? r->dossiers.size() : 0;
      }));
      if (translate_only) {
        parse_rates.push_back(1);
        continue;
      }
      parse_rates.push_back(rate(seconds, messages.size(), [&](std::size_t i) {
        if (xml) {
          pugi::xml_document doc;
          doc.load_buffer(messages[i].data(), messages[i].size(), pugi::parse_default, pugi::encoding_utf8);
          sink = doc.document_element() ? 1 : 0;
        } else {
          // Boost.JSON at its fastest: an arena on the stack, as its documentation recommends.
          unsigned char buffer[8192];
          boost::json::monotonic_resource arena(buffer, sizeof buffer);
          boost::json::value v = boost::json::parse(messages[i], &arena);
          sink = v.is_object() ? 1 : 0;
        }
      }));
    }
    const double t = median(translate_rates), p = median(parse_rates);
    std::printf("%-31s %5s %7zu %12.0f %12.0f %7.2f %9.0f\n", c.label.c_str(), xml ? "xml" : "json",
                bytes / messages.size(), t, p, t / p,
                t * static_cast<double>(dossiers) / static_cast<double>(messages.size()));
  }
  return 0;
}
