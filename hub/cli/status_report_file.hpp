// The status reports of `check` (samples/<agency>/callbacks/<name>.report.json): what the hub knows
// when a dossier changes status, written by hand by an integration engineer. Read strictly, as the
// hub would fill them: unknown keys, wrong types, a status that is not canonical or a missing field
// are errors naming file, line, column and field, so that `--write-missing` never writes the body
// of a report the hub could not send.
#pragma once

#include "hub/mapping/mapping.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace dh::cli {

// The report in `file`, or nullopt with one line per problem in `errors`.
std::optional<mapping::StatusReport> read_status_report(const std::filesystem::path& file,
                                                        std::vector<std::string>& errors);

}  // namespace dh::cli
