// dossier-hub: the one binary. Subcommands are listed in `commands()`; each parses its own
// options with Boost.Program_options and owns its --help text.
#include "hub/cli/command.hpp"

#include <array>
#include <cstring>
#include <iostream>

namespace dh::cli {

std::span<const Command> commands() {
  static constexpr std::array kCommands{
      Command{"translate", "map one agency message to canonical dossier(s), offline", run_translate},
      Command{"check", "test every mapping against its samples (the integration engineer's test)", run_check},
      Command{"serve", "run the hub service", run_serve},
      Command{"postal-sim", "run the postal core simulator (development and tests)", run_postal_sim},
      Command{"admin", "operators' commands against a running hub (dead letters, traces, reload)", run_admin},
      Command{"audit", "verify the hash chain of a hub file's audit log", run_audit},
      Command{"version", "print the version and the library versions", run_version},
  };
  return kCommands;
}

bool parse_args(std::span<char*> args, std::string_view usage, std::string_view description,
                const po::options_description& options, const po::positional_options_description& positional,
                po::variables_map& vm, int& exit_code, const po::options_description* hidden) {
  po::options_description visible;
  visible.add_options()("help,h", "show this help");
  visible.add(options);
  po::options_description all;
  all.add(visible);
  if (hidden) all.add(*hidden);
  const std::string name(args.empty() ? "" : args[0]);
  try {
    po::store(po::command_line_parser(static_cast<int>(args.size()), args.data())  // argv[0] is skipped
                  .options(all)
                  .positional(positional)
                  .style(po::command_line_style::unix_style ^ po::command_line_style::allow_guessing)
                  .run(),
              vm);
    if (vm.count("help")) {
      std::cout << "Usage: dossier-hub " << usage << "\n\n" << description << "\n\n" << visible << '\n';
      exit_code = kExitOk;
      return false;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "dossier-hub " << name << ": " << e.what() << "\nTry 'dossier-hub " << name << " --help'.\n";
    exit_code = kExitUsage;
    return false;
  }
  return true;
}

namespace {

void print_usage(std::ostream& out) {
  out << "Usage: dossier-hub COMMAND [OPTIONS]\n\n"
         "Dossier Hub connects agency systems to the postal core for the public-interest postal\n"
         "service: agency messages in, canonical dossiers stored and routed, intake orders out.\n\n"
         "Commands:\n";
  for (const auto& c : commands()) {
    out << "  " << c.name << std::string(12 - c.name.size(), ' ') << c.summary << '\n';
  }
  out << "\nRun 'dossier-hub COMMAND --help' for a command's options.\n"
         "Exit codes: 0 success, 1 input refused or check failed, 2 usage or configuration error.\n";
}

}  // namespace
}  // namespace dh::cli

int main(int argc, char** argv) {
  using namespace dh::cli;
  if (argc < 2) {
    print_usage(std::cerr);
    return kExitUsage;
  }
  const std::string_view name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    if (argc >= 3 && name == "help") {
      std::array<char*, 2> help_args{argv[2], const_cast<char*>("--help")};
      for (const auto& c : commands())
        if (c.name == argv[2]) return c.run(help_args);
    }
    print_usage(std::cout);
    return kExitOk;
  }
  if (name == "--version") return run_version(std::span<char*>(argv + 1, 1));
  for (const auto& c : commands()) {
    if (c.name == name) return c.run(std::span<char*>(argv + 1, static_cast<std::size_t>(argc - 1)));
  }
  std::cerr << "dossier-hub: unknown command '" << name << "'\n\n";
  print_usage(std::cerr);
  return kExitUsage;
}
