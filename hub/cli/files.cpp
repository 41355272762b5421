#include "hub/cli/files.hpp"

#include <fstream>
#include <iostream>
#include <iterator>

namespace dh::cli {

std::optional<std::string> read_file(const std::filesystem::path& path, std::size_t max_bytes, std::string& error) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (path != "-") {
    file.open(path, std::ios::binary);
    if (!file) {
      error = "cannot read " + path.string();
      return std::nullopt;
    }
    in = &file;
  }
  std::string out;
  char buf[65536];
  while (*in) {
    in->read(buf, sizeof buf);
    out.append(buf, static_cast<std::size_t>(in->gcount()));
    if (out.size() > max_bytes) {
      error = path.string() + " is larger than " + std::to_string(max_bytes) + " bytes";
      return std::nullopt;
    }
  }
  return out;
}

}  // namespace dh::cli
