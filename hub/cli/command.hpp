// The `dossier-hub` command line: one Command per subcommand, each with its own --help.
// Exit codes are shared by every command: 0 success, 1 the input was refused or a check failed,
// 2 usage or configuration error.
#pragma once

#include <boost/program_options.hpp>

#include <iosfwd>
#include <span>
#include <string>
#include <string_view>

namespace dh::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRefused = 1;
inline constexpr int kExitUsage = 2;

struct Command {
  std::string_view name;
  std::string_view summary;
  // args[0] is the command name itself.
  int (*run)(std::span<char*> args);
};

std::span<const Command> commands();

namespace po = boost::program_options;

// Parses a subcommand's arguments; `hidden` holds positionals that --help describes in `usage`. Prints help and returns
// kExitOk in `exit_code` for --help, prints the error and returns kExitUsage on a usage error; returns true when the
// command should run.
bool parse_args(std::span<char*> args, std::string_view usage, std::string_view description,
                const po::options_description& options, const po::positional_options_description& positional,
                po::variables_map& vm, int& exit_code, const po::options_description* hidden = nullptr);

int run_version(std::span<char*> args);
int run_translate(std::span<char*> args);
int run_check(std::span<char*> args);
int run_serve(std::span<char*> args);
int run_postal_sim(std::span<char*> args);
int run_audit(std::span<char*> args);
int run_admin(std::span<char*> args);

}  // namespace dh::cli
