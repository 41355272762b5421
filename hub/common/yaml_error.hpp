// A YAML parse error as a person fixes it: yaml-cpp reports a tab in the indentation as "illegal
// map value" or "end of map not found" some columns away, so the tab itself is named instead.
// Shared by every reader of YAML files people write (mappings, routes, configurations).
#pragma once

#include "hub/common/text.hpp"

#include <yaml-cpp/exceptions.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace dh {

struct YamlErrorAt {
  std::size_t line = 1, column = 1;  // 1-based; column in code points
  std::string message;
};

inline YamlErrorAt explain_yaml_error(std::string_view content, const YAML::Exception& e) {
  if (auto tab = text::find_indent_tab(content, static_cast<std::size_t>(e.mark.line) + 1)) {
    const auto [line, column] = text::line_column(content, *tab);
    return {line, column, "a tab in the indentation: YAML indents with spaces only (the parser says: " + e.msg + ")"};
  }
  if (e.mark.is_null()) return {1, 1, e.msg};
  return {static_cast<std::size_t>(e.mark.line) + 1, static_cast<std::size_t>(e.mark.column) + 1, e.msg};
}

}  // namespace dh
