// Distinguished names as operators write them in configuration ("CN=...,O=...") and as they are
// compared with certificates: a set of attributes, order-insensitive.
#pragma once

#include "hub/common/result.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dh {

// (attribute short name in upper case, UTF-8 value) pairs: {"CN", "Dossier Hub Dev CA"}.
using DistinguishedName = std::vector<std::pair<std::string, std::string>>;

// Parses "CN=Dossier Hub Dev CA,O=Dossier Hub (development only)" (RFC 4514: ',' separates,
// '\\' escapes). Attribute names are case-insensitive short names (CN, O, OU, C, L, ST, ...).
Outcome<DistinguishedName> parse_dn(std::string_view text);

// Two DNs are the same when they hold the same attributes, in any order: operators write them in
// the order they read them, and OpenSSL prints them the other way round.
bool same_dn(const DistinguishedName& a, const DistinguishedName& b);

}  // namespace dh
