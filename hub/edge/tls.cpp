#include "hub/edge/tls.hpp"

#include <openssl/ssl.h>

#include <stdexcept>

namespace dh::edge {
namespace ssl = boost::asio::ssl;

namespace {

void common(ssl::context& ctx, const config::Tls& tls) {
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                  ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  ctx.use_certificate_chain_file(tls.certificate.string(), ec);
  if (ec) throw std::runtime_error("cannot use the certificate " + tls.certificate.string() + ": " + ec.message());
  ctx.use_private_key_file(tls.private_key.string(), ssl::context::pem, ec);
  if (ec) throw std::runtime_error("cannot use the private key " + tls.private_key.string() + ": " + ec.message());
  if (!tls.client_ca.empty()) {
    ctx.load_verify_file(tls.client_ca.string(), ec);
    if (ec) throw std::runtime_error("cannot read the CA file " + tls.client_ca.string() + ": " + ec.message());
  }
}

}  // namespace

ssl::context make_server_context(const config::Tls& tls) {
  ssl::context ctx(ssl::context::tls_server);
  common(ctx, tls);
  // Ask for a certificate, accept the handshake whatever it is, and let the edge read the
  // verification result (SSL_get_verify_result) to answer 401 or 403.
  ctx.set_verify_mode(ssl::verify_peer);
  ctx.set_verify_callback([](bool, ssl::verify_context&) { return true; });
  // Clients resume their TLS sessions (curl, Java and .NET all do); OpenSSL refuses a resumption
  // with an internal-error alert unless a server that verifies peers names its session context.
  // A resumed session keeps the peer certificate and its verification result.
  static constexpr unsigned char kSessionContext[] = "dossier-hub";
  SSL_CTX_set_session_id_context(ctx.native_handle(), kSessionContext, sizeof kSessionContext - 1);
  // Only this CA's subjects are offered as acceptable to clients.
  if (!tls.client_ca.empty())
    SSL_CTX_set_client_CA_list(ctx.native_handle(), SSL_load_client_CA_file(tls.client_ca.c_str()));
  return ctx;
}

ssl::context make_client_context(const config::Tls& tls) {
  ssl::context ctx(ssl::context::tls_client);
  common(ctx, tls);
  ctx.set_verify_mode(ssl::verify_peer);
  return ctx;
}

}  // namespace dh::edge
