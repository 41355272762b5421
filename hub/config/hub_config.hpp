// The hub's configuration (`dossier-hub serve --config FILE`): listeners, TLS, edge limits, the
// store, mappings, routes, postal endpoints and the dispatcher. Every key has a default but the
// few that cannot (certificates); unknown keys are errors; every error names file:line:column.
// Relative paths are relative to the configuration file. Reference: docs/operations.md.
#pragma once

#include "hub/mapping/mapping.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace dh::config {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Listener {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;  // 0: any free port (tests); the chosen port is logged
};

struct Tls {
  std::filesystem::path certificate;  // the hub's server certificate (PEM)
  std::filesystem::path private_key;
  std::filesystem::path client_ca;  // CAs that issue partners' client certificates
};

struct Limits {
  std::size_t max_body_bytes = 1 << 20;     // 413 beyond
  std::size_t max_header_bytes = 16 << 10;  // 431 beyond
  std::chrono::milliseconds handshake_timeout{5000};
  std::chrono::milliseconds read_timeout{10000};  // whole request, headers and body: slow clients
  std::chrono::milliseconds idle_timeout{30000};  // keep-alive wait for the next request
  std::size_t max_connections = 1024;
  double agency_rate = 200;                // requests per second per agency (token bucket)
  double agency_burst = 400;               // bucket size
  std::size_t max_pending_writes = 10000;  // accepts waiting for the store; beyond: 503 (back-pressure)
};

struct Backoff {
  std::chrono::milliseconds initial{1000};
  std::chrono::milliseconds max{300000};
  double multiplier = 2.0;
  double jitter = 0.2;  // +- this fraction, so retries of many entries spread out
};

struct Breaker {
  int failures = 5;                           // consecutive failures that open it
  std::chrono::milliseconds open_for{30000};  // then one trial request (half-open)
};

// How orders reach a postal endpoint: the intake contract over HTTPS, or a RabbitMQ queue that the
// postal core consumes, answering on a reply queue (docs/operations.md, "A postal core on AMQP").
enum class EndpointKind { https, amqp };

struct Endpoint {
  std::string url;  // https://host:port (the postal core's base URL), or amqp://user:password@host:port/vhost
  std::chrono::milliseconds timeout{5000};  // https: per request; amqp: for the broker's publisher confirm
  std::size_t connections = 8;              // https only: kept-alive connections to it
  EndpointKind kind = EndpointKind::https;  // from the URL's scheme
  // amqp only:
  std::string queue = "postal.orders";            // the postal core's order queue (durable, quorum)
  std::string reply_queue = "dh.postal.replies";  // the hub's reply queue, shared by every instance
  std::chrono::seconds reply_timeout{15 * 60};    // an order with no reply by then is published again
};

// Where an endpoint's orders go, safe to store and log (no password): https: `{url}/v1/orders`;
// amqp: `amqp://user@host:port/vhost` and ` queue <queue>`.
std::string order_url(const Endpoint& endpoint);

struct Dispatcher {
  int max_attempts = 10;
  Backoff backoff;
  Breaker breaker;
  std::chrono::milliseconds poll{100};  // how often the outbox is looked at when idle
  std::chrono::seconds lease{60};       // a claimed entry is retried by others after this
  std::size_t batch = 64;               // entries claimed at once
  std::size_t concurrency = 64;         // requests in flight
};

// Shared mode's work distribution (hub/queue/, docs/operations.md "Shared mode: RabbitMQ").
struct Queue {
  std::string url;                                  // amqp://user:password@host:port/vhost, checked at load
  std::uint16_t prefetch = 64;                      // deliveries a consumer holds unacked at once
  std::size_t publish_batch = 256;                  // publishes per publisher-confirm wait
  std::chrono::milliseconds confirm_timeout{5000};  // a batch not confirmed by then is published again
  std::vector<std::chrono::milliseconds> retry_tiers{std::chrono::seconds(1), std::chrono::seconds(5),
                                                     std::chrono::seconds(30), std::chrono::minutes(2),
                                                     std::chrono::minutes(10)};  // delay queues, ascending
  std::chrono::seconds heartbeat{10};  // AMQP heartbeat: a dead broker or peer is noticed within ~2x
  // A published entry stays leased to the queue this long: if it is neither delivered nor given up
  // by then (the broker lost it), any instance's relay publishes it again. Longer than every tier.
  std::chrono::seconds republish_after{900};
};

// Where the hub keeps its state (docs/operations.md): the embedded SQLite file, or a PostgreSQL
// database that several hub instances share.
enum class StoreKind { sqlite, postgres };

struct PostgresStore {
  std::string url;  // postgresql://...: required with kind postgres; may hold a password, never logged
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds statement_timeout{5000};
  std::size_t read_connections = 4;  // reads and claims at once
};

struct HubConfig {
  std::filesystem::path file;
  Listener agencies{"127.0.0.1", 8443};  // agencies and the postal core (mTLS)
  Listener admin{"127.0.0.1", 8444};     // operators (plain HTTP, loopback)
  Tls tls;
  Tls client_tls;  // the hub's client certificate towards the postal core and agencies
  Limits limits;
  unsigned workers = 2;
  StoreKind store_kind = StoreKind::sqlite;
  std::filesystem::path store_file = "dossier-hub.db";  // kind sqlite
  std::size_t store_batch = 256;                        // writes per transaction, either kind
  PostgresStore store_postgres;                         // kind postgres
  std::filesystem::path mappings = "mappings";
  std::filesystem::path routes = "mappings/routes.yaml";
  mapping::Identity postal_identity;                       // the postal core's client certificate
  std::map<std::string, Endpoint, std::less<>> endpoints;  // "postal" -> ...
  Dispatcher dispatcher;
  std::optional<Queue> queue;  // absent: embedded mode (the dispatcher works from the store's outbox alone)
  // Test and demo environments that cannot reach the agencies' own endpoints send every status
  // callback to <callback_redirect>/<agency id> instead of the mapping's URL (the postal core
  // simulator records them). Empty in production.
  std::string callback_redirect;
  std::string log_level = "info";

  static HubConfig load(const std::filesystem::path& file);  // throws ConfigError
};

// "10s", "250ms", "5m", "1h" -> milliseconds; nullopt when not a duration.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace dh::config
