#include "hub/cli/command.hpp"

#include <boost/version.hpp>
#include <libxml/xmlversion.h>
#include <openssl/opensslv.h>
#include <pugixml.hpp>
#include <unicode/uvernum.h>
#include <yaml-cpp/yaml.h>

#include <iostream>

namespace dh::cli {

int run_version(std::span<char*> args) {
  po::options_description options("Options");
  po::positional_options_description positional;
  po::variables_map vm;
  int code = kExitOk;
  if (!parse_args(args, "version", "Prints the version of dossier-hub and of the libraries it was built with.", options,
                  positional, vm, code))
    return code;
  std::cout << "dossier-hub " << DH_VERSION << "\n"
            << "  boost " << BOOST_VERSION / 100000 << '.' << BOOST_VERSION / 100 % 1000 << '.' << BOOST_VERSION % 100
            << "\n"
            << "  " << OPENSSL_VERSION_TEXT << "\n"
            << "  pugixml " << PUGIXML_VERSION / 1000 << '.' << PUGIXML_VERSION % 1000 / 10 << "\n"
            << "  libxml2 " << LIBXML_DOTTED_VERSION << "\n"
            << "  icu " << U_ICU_VERSION << "\n";
  return kExitOk;
}

}  // namespace dh::cli
