// Reading YAML configuration strictly, shared by the hub's and the simulator's configurations:
// unknown and duplicate keys are errors, and every error names file:line:column. Start-up only:
// it throws ConfigError.
#pragma once

#include "hub/common/yaml_error.hpp"
#include "hub/config/hub_config.hpp"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <string_view>

namespace dh::config {

class YamlReader {
 public:
  explicit YamlReader(std::filesystem::path file) : file_(std::move(file)) {}

  [[noreturn]] void fail(const YAML::Node& n, const std::string& msg) const {
    std::ostringstream os;
    os << file_.string();
    if (n && !n.Mark().is_null()) os << ':' << n.Mark().line + 1 << ':' << n.Mark().column + 1;
    os << ": " << msg;
    throw ConfigError(os.str());
  }

  // The file's document. Errors name file:line:column (a tab in the indentation as such).
  [[nodiscard]] YAML::Node load() const {
    std::ifstream in(file_, std::ios::binary);
    if (!in) throw ConfigError(file_.string() + ": cannot read the file");
    const std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    try {
      return YAML::Load(content);
    } catch (const YAML::Exception& e) {
      const auto why = explain_yaml_error(content, e);
      throw ConfigError(file_.string() + ":" + std::to_string(why.line) + ":" + std::to_string(why.column) + ": " +
                        why.message);
    }
  }

  // A map whose keys are all in `allowed`, each once.
  void keys(const YAML::Node& n, std::string_view what, std::initializer_list<std::string_view> allowed) const {
    if (!n.IsMap()) fail(n, std::string(what) + " must be a map");
    std::set<std::string> seen;
    for (const auto& kv : n) {
      const std::string k = kv.first.Scalar();
      if (!seen.insert(k).second) fail(kv.first, "duplicate key '" + k + "' in " + std::string(what));
      bool ok = false;
      for (auto a : allowed) ok = ok || a == k;
      if (!ok) {
        std::string list;
        for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
        fail(kv.first, "unknown key '" + k + "' in " + std::string(what) + " (expected one of: " + list + ")");
      }
    }
  }

  std::string text(const YAML::Node& n, std::string_view what) const {
    if (!n.IsScalar()) fail(n, std::string(what) + " must be text");
    return n.Scalar();
  }

  // Relative to the configuration file.
  std::filesystem::path path(const YAML::Node& n, std::string_view what) const {
    std::filesystem::path p = text(n, what);
    return p.is_absolute() ? p : (file_.parent_path() / p).lexically_normal();
  }

  template <class Int>
  Int number(const YAML::Node& n, std::string_view what, Int lo, Int hi) const {
    const std::string s = text(n, what);
    unsigned long long v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || v < static_cast<unsigned long long>(lo) ||
        v > static_cast<unsigned long long>(hi))
      fail(n, std::string(what) + " must be a whole number from " + std::to_string(lo) + " to " + std::to_string(hi));
    return static_cast<Int>(v);
  }

  // certificate, private_key and ca, each a file that exists.
  Tls tls(const YAML::Node& n, std::string_view what) const {
    keys(n, what, {"certificate", "private_key", "ca"});
    Tls t;
    for (auto [key, out] : {std::pair{"certificate", &t.certificate}, std::pair{"private_key", &t.private_key},
                            std::pair{"ca", &t.client_ca}}) {
      if (!n[key]) fail(n, std::string(what) + " needs '" + key + "'");
      *out = path(n[key], key);
      if (!std::filesystem::exists(*out))
        fail(n[key], out->string() + " does not exist (make development certificates with certs/make-dev-certs.sh)");
    }
    return t;
  }

 private:
  std::filesystem::path file_;
};

}  // namespace dh::config
