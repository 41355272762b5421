// Where the broker is: `amqp://user:password@host:port/vhost`, parsed strictly. Pure: no sockets;
// the configuration checks its URL with it at load time.
// The password never leaves this struct in text: to_display() leaves it out, for logs and errors.
#pragma once

#include "hub/common/result.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace dh::queue {

struct BrokerAddress {
  std::string host = "127.0.0.1";
  std::uint16_t port = 5672;
  std::string user = "guest";
  std::string password = "guest";
  std::string vhost = "/";
};

// RabbitMQ's URI spec: user, password and vhost are percent-decoded; no path or `/` is the
// vhost "/" (write `/%2F` for it explicitly); the user and password default to guest/guest and the
// port to 5672; IPv6 hosts in brackets. `amqps://` (TLS) and query parameters are refused: this
// build speaks plain AMQP, and its settings come from the configuration's own keys.
Outcome<BrokerAddress> parse_amqp_url(std::string_view url);

// amqp://user@host:port/vhost, without the password.
std::string to_display(const BrokerAddress& broker);

}  // namespace dh::queue
