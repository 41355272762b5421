// Shared helpers for the mapping and adapter tests: build a Mapping from inline YAML, run a
// message through it, and look at the Problem it gives back.
#pragma once

#include "adapters/registry.hpp"
#include "hub/mapping/mapping.hpp"
#include "hub/mapping/problem.hpp"
#include "tests/support/print.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <utility>

namespace dh::mapping {

inline std::ostream& operator<<(std::ostream& os, ProblemType t) {
  return os << type_uri(t);
}

inline std::ostream& operator<<(std::ostream& os, const Problem& p) {
  os << type_uri(p.type);
  if (!p.message_type.empty()) os << " [" << p.message_type << "]";
  return os << ": " << p.errors.to_string();
}

}  // namespace dh::mapping

namespace dh::testing {

namespace fs = std::filesystem;
using mapping::Mapping;
using mapping::Problem;
using mapping::ProblemType;

// The agency, identity and organ every test mapping shares; append `format:` and `messages:`.
inline constexpr std::string_view kHeader = R"(mapping: dossier-hub/mapping/v1
agency:
  name: Sở Ví dụ
  organs: { "000.00.12.H29": Sở Ví dụ Một Cửa }
identity: { subject_cn: test-agency, issuer: "CN=Test CA" }
)";

inline std::string with_header(std::string_view rest) {
  return std::string(kHeader) + std::string(rest);
}

// A mapping from inline YAML; the file name gives the agency id ("test-agency").
inline Mapping load_yaml(const std::string& yaml, const fs::path& file = "/tmp/x/test-agency.yaml") {
  return Mapping::load_text(yaml, file, adapters::builtin());
}

// The MappingError message loading `yaml` gives, or "(loaded)" when it loads.
inline std::string load_error(const std::string& yaml, const fs::path& file = "/tmp/x/test-agency.yaml") {
  try {
    (void)Mapping::load_text(yaml, file, adapters::builtin());
  } catch (const mapping::MappingError& e) {
    return e.what();
  }
  return "(loaded)";
}

// A fresh directory under the system temp dir, removed with everything in it at the end.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    const auto base = fs::temp_directory_path();
    for (int attempt = 0; attempt < 100; ++attempt) {
      fs::path p = base / ("dh-test-" + std::to_string(rd()) + std::to_string(attempt));
      if (fs::create_directory(p)) {
        path_ = std::move(p);
        return;
      }
    }
    FAIL("cannot create a temporary directory");
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  [[nodiscard]] const fs::path& path() const noexcept { return path_; }
  fs::path write(const std::string& name, std::string_view content) const {
    const fs::path p = path_ / name;
    std::ofstream out(p, std::ios::binary);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    REQUIRE(out.good());
    return p;
  }

 private:
  fs::path path_;
};

// The problem of a translation that must fail; fails the test when it succeeds.
inline Problem problem_of(const Mapping& m, std::string_view body, const mapping::ParseLimits& limits = {}) {
  auto r = m.translate(body, limits);
  if (r) {
    std::string dossiers;
    for (const auto& d : r->dossiers) dossiers += boost::json::serialize(to_json(d, HubFields::omit)) + "\n";
    FAIL("the message was accepted, expected a problem; dossiers:\n" << dossiers);
  }
  return r.error();
}

// The translation of a message that must succeed; fails the test with the problem otherwise.
inline Mapping::Translation translation_of(const Mapping& m, std::string_view body) {
  auto r = m.translate(body);
  if (!r) FAIL("expected a translation, got " << r.error());
  return std::move(*r);
}

// The only dossier of a translation that must succeed with exactly one.
inline Dossier dossier_of(const Mapping& m, std::string_view body) {
  auto t = translation_of(m, body);
  REQUIRE(t.dossiers.size() == 1);
  return std::move(t.dossiers.front());
}

// The first error at exactly `path`, or nullptr.
inline const FieldError* error_at(const Problem& p, std::string_view path) {
  for (const auto& e : p.errors.errors)
    if (e.path == path) return &e;
  return nullptr;
}

// True when any reason contains `needle`: used to check that a reason never quotes a value.
inline bool any_reason_contains(const Problem& p, std::string_view needle) {
  for (const auto& e : p.errors.errors)
    if (e.reason.find(needle) != std::string::npos || e.path.find(needle) != std::string::npos) return true;
  return false;
}

// Wall-clock time of f(), for "refused quickly" checks with generous bounds.
template <class F>
double seconds_for(F&& f) {
  const auto start = std::chrono::steady_clock::now();
  std::forward<F>(f)();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

inline std::string repeat(std::string_view s, std::size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

}  // namespace dh::testing

// Asserts that `problem` has the type and an error at `path` whose reason contains `phrase`.
#define DH_CHECK_PROBLEM(problem, problem_type, path, phrase)                  \
  do {                                                                         \
    const ::dh::mapping::Problem& dh_p_ = (problem);                           \
    INFO("problem: " << dh_p_);                                                \
    CHECK(dh_p_.type == (problem_type));                                       \
    const ::dh::FieldError* dh_e_ = ::dh::testing::error_at(dh_p_, (path));    \
    REQUIRE(dh_e_ != nullptr);                                                 \
    CHECK_THAT(dh_e_->reason, Catch::Matchers::Contains(std::string(phrase))); \
  } while (false)
