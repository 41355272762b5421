#include "hub/common/distinguished_name.hpp"

#include <algorithm>
#include <cctype>

namespace dh {
namespace {

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

}  // namespace

Outcome<DistinguishedName> parse_dn(std::string_view text) {
  DistinguishedName out;
  std::string key, value;
  bool in_value = false;
  auto finish = [&]() -> bool {
    auto trim = [](std::string& s) {
      while (!s.empty() && s.back() == ' ') s.pop_back();
      while (!s.empty() && s.front() == ' ') s.erase(0, 1);
    };
    trim(key);
    trim(value);
    if (key.empty() || value.empty()) return false;
    out.emplace_back(upper(key), value);
    key.clear();
    value.clear();
    in_value = false;
    return true;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\' && i + 1 < text.size()) {
      (in_value ? value : key) += text[++i];
    } else if (c == '=' && !in_value) {
      in_value = true;
    } else if (c == ',') {
      if (!finish()) return make_error("'" + std::string(text) + "' is not a distinguished name (NAME=value,...)");
    } else {
      (in_value ? value : key) += c;
    }
  }
  if (!finish()) return make_error("'" + std::string(text) + "' is not a distinguished name (NAME=value,...)");
  return out;
}

bool same_dn(const DistinguishedName& a, const DistinguishedName& b) {
  if (a.size() != b.size()) return false;
  auto sa = a, sb = b;
  std::sort(sa.begin(), sa.end());
  std::sort(sb.begin(), sb.end());
  return sa == sb;
}

}  // namespace dh
