// Which partner a client certificate belongs to. The facts the hub uses are read from the
// certificate once (subject CN, subjectAltName URIs and DNS names, issuer DN) and matched against
// each mapping's `identity` section: a certificate must match exactly one partner.
#pragma once

#include "hub/common/distinguished_name.hpp"
#include "hub/common/result.hpp"
#include "hub/mapping/mapping.hpp"

#include <openssl/types.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace dh::edge {

struct CertificateFacts {
  std::string subject_cn;
  std::vector<std::string> san_uris;
  std::vector<std::string> san_dns;
  DistinguishedName issuer;
};

CertificateFacts facts_of(X509* cert);
// Reads the first certificate of a PEM file.
Outcome<CertificateFacts> read_certificate(const std::filesystem::path& pem);

// Whether the certificate belongs to the partner: issued by `issuer`, and every subject key the
// identity gives matches (CN exactly; a SAN URI or DNS name among the certificate's).
bool matches(const mapping::Identity& id, const CertificateFacts& cert);

// Whether one certificate could match both identities: same issuer, and no subject key that
// tells them apart. Used to refuse two mappings claiming the same certificate.
bool overlaps(const mapping::Identity& a, const mapping::Identity& b);

}  // namespace dh::edge
