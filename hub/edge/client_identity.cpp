#include "hub/edge/client_identity.hpp"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <memory>

namespace dh::edge {
namespace {

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

std::string asn1_utf8(const ASN1_STRING* s) {
  unsigned char* out = nullptr;
  const int n = ASN1_STRING_to_UTF8(&out, s);
  if (n < 0) return {};
  std::string r(reinterpret_cast<char*>(out), static_cast<std::size_t>(n));
  OPENSSL_free(out);
  return r;
}

DistinguishedName dn_of(const X509_NAME* name) {
  DistinguishedName out;
  for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
    const X509_NAME_ENTRY* e = X509_NAME_get_entry(name, i);
    const int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
    const char* sn = nid != NID_undef ? OBJ_nid2sn(nid) : "?";
    out.emplace_back(upper(sn), asn1_utf8(X509_NAME_ENTRY_get_data(e)));
  }
  return out;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

CertificateFacts facts_of(X509* cert) {
  CertificateFacts f;
  for (const auto& [k, v] : dn_of(X509_get_subject_name(cert)))
    if (k == "CN") f.subject_cn = v;
  f.issuer = dn_of(X509_get_issuer_name(cert));
  auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans, i);
      if (g->type == GEN_URI)
        f.san_uris.push_back(asn1_utf8(g->d.uniformResourceIdentifier));
      else if (g->type == GEN_DNS)
        f.san_dns.push_back(asn1_utf8(g->d.dNSName));
    }
    GENERAL_NAMES_free(sans);
  }
  return f;
}

Outcome<CertificateFacts> read_certificate(const std::filesystem::path& pem) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(pem.c_str(), "rb"), std::fclose);
  if (!file) return make_error("cannot read " + pem.string());
  std::unique_ptr<X509, void (*)(X509*)> cert(PEM_read_X509(file.get(), nullptr, nullptr, nullptr), X509_free);
  if (!cert) return make_error(pem.string() + " holds no PEM certificate");
  return facts_of(cert.get());
}

bool matches(const mapping::Identity& id, const CertificateFacts& cert) {
  if (id.issuer_dn.empty() || !same_dn(id.issuer_dn, cert.issuer)) return false;
  if (id.subject_cn && *id.subject_cn != cert.subject_cn) return false;
  if (id.san_uri && !contains(cert.san_uris, *id.san_uri)) return false;
  if (id.san_dns && !contains(cert.san_dns, *id.san_dns)) return false;
  return id.subject_cn || id.san_uri || id.san_dns;
}

bool overlaps(const mapping::Identity& a, const mapping::Identity& b) {
  if (a.issuer_dn.empty() || !same_dn(a.issuer_dn, b.issuer_dn)) return false;
  // Two different values for the same key tell them apart; a key given by one only does not.
  if (a.subject_cn && b.subject_cn && *a.subject_cn != *b.subject_cn) return false;
  if (a.san_uri && b.san_uri && *a.san_uri != *b.san_uri) return false;
  if (a.san_dns && b.san_dns && *a.san_dns != *b.san_dns) return false;
  return true;
}

}  // namespace dh::edge
