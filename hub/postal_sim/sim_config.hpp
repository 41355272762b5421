// The postal core simulator's configuration (`dossier-hub postal-sim --config FILE`) and its fault
// knobs. Every key has a default but the certificates; unknown keys are errors; every error names
// file:line:column. Relative paths are relative to the configuration file. Reference:
// docs/postal-sim.md.
#pragma once

#include "hub/common/result.hpp"
#include "hub/config/hub_config.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace dh::postal_sim {

// What the simulator does wrong on purpose, and its event schedule. All settable at start-up
// (config `faults:` and `events:`) and at run time (POST /admin/faults).
struct Faults {
  double error_rate = 0;                               // share of order requests answered 503
  std::chrono::milliseconds latency{0};                // added before answering an order request
  std::chrono::system_clock::time_point down_until{};  // until then every /v1/ request gets 503
  double duplicate_events = 0;                         // share of events sent twice
  double reorder_events = 0;                           // share of orders with two events swapped
  std::chrono::milliseconds step{2000};                // between one order's status events
  double delivery_failure_rate = 0.1;                  // share of delivery attempts that fail
};

// Applies a JSON object of knobs (error_rate, latency, down_for, duplicate_events, reorder_events,
// step, delivery_failure_rate; durations as "250ms", "10s") to `faults`. Every bad key or value
// is reported and nothing is changed then.
Result<Faults> apply_faults(Faults faults, const boost::json::value& knobs, std::chrono::system_clock::time_point now);
// The knobs as JSON (down_for: what is left of it).
boost::json::object faults_json(const Faults& faults, std::chrono::system_clock::time_point now);

// Orders from a RabbitMQ queue as well as over HTTPS (docs/postal-sim.md, "Orders on AMQP"): the
// simulator consumes `queue`, runs each order through the same order logic, and replies to the
// order's reply_to.
struct SimAmqp {
  std::string url;  // amqp://user:password@host:port/vhost, checked at load
  std::string queue = "postal.orders";
  std::uint16_t prefetch = 32;  // orders taken at once, unacked until their reply is confirmed
};

struct SimConfig {
  std::filesystem::path file;
  config::Listener listen{"127.0.0.1", 9443};
  config::Tls tls;         // the simulator's server certificate; `ca` issues the clients it accepts
  config::Tls client_tls;  // its client certificate towards the hub; `ca` issues the hub's server certificate
  std::string hub_url = "https://127.0.0.1:8443";
  std::chrono::milliseconds hub_timeout{5000};
  std::string orders_cn = "hub";  // subject CN of the only client that may place and read orders
  std::filesystem::path journal = "postal-sim-orders.jsonl";
  std::chrono::milliseconds retry_interval{1000};  // between pushes while the hub is down
  std::size_t batch = 100;                         // events per push
  Faults faults;
  std::optional<SimAmqp> amqp;  // absent: orders over HTTPS only
  std::uint64_t seed = 0;       // 0: a random seed
  std::string log_level = "info";

  static SimConfig load(const std::filesystem::path& file);  // throws config::ConfigError
};

}  // namespace dh::postal_sim
