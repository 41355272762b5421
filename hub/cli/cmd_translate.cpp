#include "adapters/registry.hpp"
#include "hub/cli/command.hpp"
#include "hub/cli/files.hpp"
#include "hub/mapping/mapping.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <iostream>

namespace dh::cli {

int run_translate(std::span<char*> args) {
  po::options_description options("Options");
  options.add_options()("mapping,m", po::value<std::string>()->required()->value_name("FILE"),
                        "the agency's mapping, mappings/<agency>.yaml")("compact", po::bool_switch(),
                                                                        "print JSON on one line instead of indented")(
      "max-bytes", po::value<std::size_t>()->default_value(4 * 1024 * 1024)->value_name("N"),
      "refuse messages larger than N bytes (the edge's body limit)");
  po::options_description hidden;
  hidden.add_options()("message", po::value<std::string>()->required(), "message file");
  po::positional_options_description positional;
  positional.add("message", 1);
  po::variables_map vm;
  int code = kExitOk;
  if (!parse_args(args, "translate --mapping FILE [--compact] MESSAGE",
                  "Maps one agency message (a file, or - for standard input) to canonical dossier/v1\n"
                  "JSON, offline, exactly as the hub would, without the fields the hub assigns when it\n"
                  "stores a dossier (hub_id, received_at, status, route, source.sha256).\n\n"
                  "Prints the dossier (an array of dossiers when the message type is a batch) and\n"
                  "exits 0. A refused message prints an RFC 9457 problem naming every failing field\n"
                  "and exits 1. Usage, file and mapping errors exit 2.",
                  options, positional, vm, code, &hidden))
    return code;

  std::optional<mapping::Mapping> m;
  try {
    m.emplace(mapping::Mapping::load(vm["mapping"].as<std::string>(), adapters::builtin()));
  } catch (const mapping::MappingError& e) {
    std::cerr << "dossier-hub translate: " << e.what() << '\n';
    return kExitUsage;
  }
  const std::size_t max_bytes = vm["max-bytes"].as<std::size_t>();
  std::string error;
  // The adapter, not the reader, refuses an oversized message: as a problem, like the edge would.
  auto body = read_file(vm["message"].as<std::string>(), std::max<std::size_t>(max_bytes + 1, 256u << 20), error);
  if (!body) {
    std::cerr << "dossier-hub translate: " << error << '\n';
    return kExitUsage;
  }
  mapping::ParseLimits limits;
  limits.max_bytes = max_bytes;
  auto result = m->translate(*body, limits);
  const auto print = [&](const boost::json::value& v) {
    if (vm["compact"].as<bool>())
      std::cout << boost::json::serialize(v) << '\n';
    else
      std::cout << to_pretty_json(v);
  };
  if (!result) {
    print(mapping::to_json(result.error()));
    return kExitRefused;
  }
  if (result->batch) {
    boost::json::array out;
    for (const auto& d : result->dossiers) out.push_back(to_json(d, HubFields::omit));
    print(out);
  } else {
    print(to_json(result->dossiers.front(), HubFields::omit));
  }
  return kExitOk;
}

}  // namespace dh::cli
