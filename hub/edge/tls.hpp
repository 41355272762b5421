// TLS contexts: TLS 1.2 or later only, modern ciphers (OpenSSL defaults), certificates in PEM.
// The server asks every client for a certificate and records whether it chains to the configured
// CA; the edge then answers 401/403 in HTTP rather than failing the handshake, so that a partner
// with a wrong or missing certificate gets a readable answer.
#pragma once

#include "hub/config/hub_config.hpp"

#include <boost/asio/ssl/context.hpp>

namespace dh::edge {

// Throws std::runtime_error naming the file on a bad certificate or key (start-up only).
boost::asio::ssl::context make_server_context(const config::Tls& tls);
// For the hub's own requests: presents the hub's client certificate, verifies the server's
// certificate against `tls.client_ca` and its name against the URL's host.
boost::asio::ssl::context make_client_context(const config::Tls& tls);

}  // namespace dh::edge
