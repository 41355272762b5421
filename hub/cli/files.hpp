// Small file helpers for the command line (the service has its own I/O).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace dh::cli {

// Reads a whole file ("-" is standard input), at most `max_bytes`; nullopt with `error` set.
std::optional<std::string> read_file(const std::filesystem::path& path, std::size_t max_bytes, std::string& error);

}  // namespace dh::cli
