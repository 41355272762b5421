// `dossier-hub audit verify`: recomputes the hash chain of a hub's audit log, read-only, and says
// where it breaks: a SQLite file, or a shared PostgreSQL database. For operators and auditors; the
// running hub is not needed.
#include "hub/cli/command.hpp"
#include "hub/store/pg_store.hpp"
#include "hub/store/sqlite_store.hpp"

#include <iostream>

namespace dh::cli {

int run_audit(std::span<char*> args) {
  po::options_description options("Options");
  options.add_options()("db", po::value<std::string>()->value_name("FILE|URL"),
                        "the hub's SQLite file, or its PostgreSQL database as a postgresql:// URL (required)");
  po::options_description hidden;
  hidden.add_options()("action", po::value<std::string>(), "what to do: verify");
  po::positional_options_description positional;
  positional.add("action", 1);
  po::variables_map vm;
  int code = kExitOk;
  if (!parse_args(args, "audit verify --db FILE|URL",
                  "Checks the audit log of a hub's SQLite file, or of a shared PostgreSQL database\n"
                  "(--db postgresql://...): every entry's hash is recomputed over its fields and the\n"
                  "previous entry's hash, from the first entry to the last. Nothing is written; the hub\n"
                  "may be running.\n"
                  "Exits 0 when the chain is intact (and prints how many entries were checked), 1 when it\n"
                  "is broken (and prints the first entry that does not match), 2 on usage errors or when\n"
                  "the file cannot be read.",
                  options, positional, vm, code, &hidden))
    return code;
  if (!vm.count("action") || vm["action"].as<std::string>() != "verify") {
    std::cerr << "dossier-hub audit: say what to do: 'audit verify --db FILE|URL'\n"
                 "Try 'dossier-hub audit --help'.\n";
    return kExitUsage;
  }
  if (!vm.count("db")) {
    std::cerr << "dossier-hub audit verify: --db FILE|URL is required\nTry 'dossier-hub audit --help'.\n";
    return kExitUsage;
  }
  const std::string db = vm["db"].as<std::string>();
  const bool shared = db.starts_with("postgresql://") || db.starts_with("postgres://");
  auto check = shared ? store::verify_audit_postgres(db) : store::verify_audit_file(db);
  if (!check) {
    std::cerr << "dossier-hub audit verify: " << check.error().message << '\n';
    return kExitUsage;
  }
  if (!check->ok) {
    std::cout << "audit chain BROKEN at seq " << *check->first_bad_seq << " (" << check->entries
              << " entries checked): the entry or the one before it was changed, or entries were removed\n";
    return kExitRefused;
  }
  std::cout << "audit chain intact: " << check->entries << " entries checked\n";
  return kExitOk;
}

}  // namespace dh::cli
