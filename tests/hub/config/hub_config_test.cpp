// The hub's configuration file (docs/operations.md, "Configuration reference"), loaded from real
// files in a temporary folder: defaults, the shared-mode store and queue sections, and the errors
// that name file:line:column.
#include "hub/config/hub_config.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

using namespace dh::config;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// A folder with placeholder certificate files (the loader checks that they exist, not what they hold).
struct Folder {
  fs::path dir;
  Folder() {
    static int counter = 0;
    dir =
        fs::temp_directory_path() / ("dh-config-test-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
    fs::create_directories(dir);
    for (const char* f : {"hub.crt", "hub.key", "ca.crt"}) std::ofstream(dir / f) << "placeholder\n";
  }
  ~Folder() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  fs::path write(const std::string& extra) const {
    return write_endpoint(R"({ url: "https://127.0.0.1:9443" })", extra);
  }
  // The configuration with `endpoint` (YAML flow map) as the one postal endpoint, on line 7.
  fs::path write_endpoint(const std::string& endpoint, const std::string& extra = "") const {
    const fs::path file = dir / "hub.yaml";
    std::ofstream(file) << R"yaml(hub: dossier-hub/config/v1
tls: { certificate: hub.crt, private_key: hub.key, ca: ca.crt }
client_tls: { certificate: hub.crt, private_key: hub.key, ca: ca.crt }
postal:
  identity: { subject_cn: postal, issuer: "CN=Dossier Hub Dev CA,O=Dossier Hub (development only)" }
  endpoints:
    postal: )yaml" << endpoint
                        << "\n"
                        << extra;
    return file;
  }
};

std::string load_error(const fs::path& file) {
  try {
    HubConfig::load(file);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(loaded)";
}

// The configuration with `extra` (YAML) after the common part, loaded (or its error thrown).
HubConfig load_with(const std::string& extra) {
  Folder f;
  return HubConfig::load(f.write(extra));
}

}  // namespace

TEST_CASE("without a queue section the hub runs in embedded mode") {
  Folder f;
  const auto c = HubConfig::load(f.write(""));
  CHECK_FALSE(c.queue.has_value());
  CHECK(c.endpoints.contains("postal"));
}

TEST_CASE("the queue section: every key read") {
  Folder f;
  const auto c = HubConfig::load(f.write(R"(queue:
  kind: rabbitmq
  url: amqp://hub:secret@mq.internal:5673/dossier
  prefetch: 32
  publish_batch: 100
  confirm_timeout: 2s
  retry_tiers: [500ms, 5s, 1m]
  heartbeat: 30s
  republish_after: 20m
)"));
  REQUIRE(c.queue.has_value());
  CHECK(c.queue->url == "amqp://hub:secret@mq.internal:5673/dossier");
  CHECK(c.queue->prefetch == 32);
  CHECK(c.queue->publish_batch == 100);
  CHECK(c.queue->confirm_timeout == 2s);
  CHECK(c.queue->retry_tiers == std::vector<std::chrono::milliseconds>{500ms, 5s, 1min});
  CHECK(c.queue->heartbeat == 30s);
  CHECK(c.queue->republish_after == 20min);
}

TEST_CASE("the queue section: defaults for everything but the url") {
  Folder f;
  const auto c = HubConfig::load(f.write("queue: { url: \"amqp://127.0.0.1\" }\n"));
  REQUIRE(c.queue.has_value());
  CHECK(c.queue->prefetch == 64);
  CHECK(c.queue->publish_batch == 256);
  CHECK(c.queue->confirm_timeout == 5s);
  CHECK(c.queue->retry_tiers == std::vector<std::chrono::milliseconds>{1s, 5s, 30s, 2min, 10min});
  CHECK(c.queue->heartbeat == 10s);
  CHECK(c.queue->republish_after == 15min);
}

TEST_CASE("the queue section: mistakes are errors that say where and why") {
  Folder f;
  struct Case {
    const char* yaml;
    const char* says;
  };
  for (const Case& k : {
           Case{"queue: { url: \"amqp://h\", prefetc: 5 }\n", "unknown key 'prefetc' in queue"},
           Case{"queue: { kind: kafka, url: \"amqp://h\" }\n", "queue.kind"},
           Case{"queue: { kind: rabbitmq }\n", "queue needs 'url'"},
           Case{"queue: { url: \"http://h\" }\n", "queue.url: the broker URL must start with amqp://"},
           Case{"queue: { url: \"amqps://h\" }\n", "TLS"},
           Case{"queue: { url: \"amqp://h\", prefetch: 0 }\n", "queue.prefetch must be a whole number from 1 to 65535"},
           Case{"queue: { url: \"amqp://h\", publish_batch: 100000 }\n", "queue.publish_batch"},
           Case{"queue: { url: \"amqp://h\", confirm_timeout: soon }\n", "queue.confirm_timeout must be a duration"},
           Case{"queue: { url: \"amqp://h\", heartbeat: 1500ms }\n", "whole seconds"},
           Case{"queue: { url: \"amqp://h\", retry_tiers: [5s, 1s] }\n", "ascending"},
           Case{"queue: { url: \"amqp://h\", retry_tiers: [1s, 1s] }\n", "ascending"},
           Case{"queue: { url: \"amqp://h\", retry_tiers: [] }\n", "queue.retry_tiers must be a list"},
           Case{"queue: { url: \"amqp://h\", retry_tiers: 5s }\n", "queue.retry_tiers must be a list"},
           Case{"queue: { url: \"amqp://h\", retry_tiers: [1s, 2d] }\n", "a retry tier must be a duration"},
           Case{"queue: { url: \"amqp://h\", retry_tiers: [25h] }\n", "at most 24h"},
           Case{"queue: amqp://h\n", "queue must be a map"},
           Case{"queue: { url: \"amqp://h\", republish_after: 5m }\n", "longer than the longest retry tier"},
       }) {
    INFO(k.yaml);
    const std::string error = load_error(f.write(k.yaml));
    CHECK(error.find(k.says) != std::string::npos);
    CHECK(error.find("hub.yaml:8:") != std::string::npos);  // file:line:column of the culprit
  }
  // The password never appears in an error about the URL.
  const std::string error = load_error(f.write("queue: { url: \"amqp://hub:secret@h:99999/\" }\n"));
  CHECK(error.find("port") != std::string::npos);
  CHECK(error.find("secret") == std::string::npos);
}

TEST_CASE("store: the embedded SQLite store unless told otherwise") {
  const auto c = load_with("");
  CHECK(c.store_kind == StoreKind::sqlite);
  CHECK(c.store_batch == 256);
  const auto explicit_sqlite = load_with("store: {kind: sqlite, file: state/hub.db, batch: 64}\n");
  CHECK(explicit_sqlite.store_kind == StoreKind::sqlite);
  CHECK(explicit_sqlite.store_file.filename() == "hub.db");
  CHECK(explicit_sqlite.store_batch == 64);
}

TEST_CASE("store: kind postgres with its URL, timeouts and read connections") {
  const auto c = load_with(
      "store:\n"
      "  kind: postgres\n"
      "  url: postgresql://hub@db.internal:5432/dossier_hub\n"
      "  batch: 128\n"
      "  connect_timeout: 3s\n"
      "  statement_timeout: 2500ms\n"
      "  read_connections: 8\n");
  CHECK(c.store_kind == StoreKind::postgres);
  CHECK(c.store_postgres.url == "postgresql://hub@db.internal:5432/dossier_hub");
  CHECK(c.store_batch == 128);
  CHECK(c.store_postgres.connect_timeout == std::chrono::seconds(3));
  CHECK(c.store_postgres.statement_timeout == std::chrono::milliseconds(2500));
  CHECK(c.store_postgres.read_connections == 8);

  const auto defaults = load_with("store: {kind: postgres, url: \"postgres://localhost/hub\"}\n");
  CHECK(defaults.store_postgres.connect_timeout == std::chrono::seconds(5));
  CHECK(defaults.store_postgres.statement_timeout == std::chrono::seconds(5));
  CHECK(defaults.store_postgres.read_connections == 4);
}

TEST_CASE("store: mistakes are refused with where they are") {
  using Catch::Contains;
  CHECK_THROWS_WITH(load_with("store: {kind: mysql}\n"),
                    Contains("hub.yaml:8:") && Contains("store.kind must be sqlite") && Contains("or postgres"));
  CHECK_THROWS_WITH(load_with("store: {kind: postgres}\n"), Contains("needs store.url"));
  CHECK_THROWS_WITH(load_with("store: {kind: postgres, url: \"host=db dbname=hub\"}\n"),
                    Contains("store.url must be a postgresql:// URL"));
  CHECK_THROWS_WITH(load_with("store: {kind: postgres, url: \"postgresql://db/hub\", file: hub.db}\n"),
                    Contains("store.file belongs to store.kind: sqlite"));
  CHECK_THROWS_WITH(load_with("store: {url: \"postgresql://db/hub\"}\n"),
                    Contains("store.url belongs to store.kind: postgres"));
  CHECK_THROWS_WITH(load_with("store: {kind: postgres, url: \"postgresql://db/hub\", pool: 3}\n"),
                    Contains("unknown key 'pool' in store"));
  CHECK_THROWS_WITH(load_with("store: {kind: postgres, url: \"postgresql://db/hub\", statement_timeout: soon}\n"),
                    Contains("store.statement_timeout must be a duration"));
  CHECK_THROWS_WITH(load_with("store: {kind: postgres, url: \"postgresql://db/hub\", read_connections: 0}\n"),
                    Contains("store.read_connections must be a whole number from 1 to 256"));
}

TEST_CASE("a postal endpoint on AMQP: every key read, and where its orders go without the password") {
  Folder f;
  const auto c = HubConfig::load(f.write_endpoint(
      R"({ url: "amqp://hub:secret@mq.internal:5673/postal", queue: vnpost.orders, reply_queue: hub.replies, )"
      R"(reply_timeout: 10m, timeout: 2s })"));
  const Endpoint& e = c.endpoints.at("postal");
  CHECK(e.kind == EndpointKind::amqp);
  CHECK(e.url == "amqp://hub:secret@mq.internal:5673/postal");
  CHECK(e.queue == "vnpost.orders");
  CHECK(e.reply_queue == "hub.replies");
  CHECK(e.reply_timeout == 10min);
  CHECK(e.timeout == 2s);
  CHECK(order_url(e) == "amqp://hub@mq.internal:5673/postal queue vnpost.orders");

  const auto d = HubConfig::load(f.write_endpoint(R"({ url: "amqp://127.0.0.1" })"));
  const Endpoint& defaults = d.endpoints.at("postal");
  CHECK(defaults.kind == EndpointKind::amqp);
  CHECK(defaults.queue == "postal.orders");
  CHECK(defaults.reply_queue == "dh.postal.replies");
  CHECK(defaults.reply_timeout == 15min);
  CHECK(defaults.timeout == 5s);

  const auto h = HubConfig::load(f.write(""));
  CHECK(h.endpoints.at("postal").kind == EndpointKind::https);
  CHECK(order_url(h.endpoints.at("postal")) == "https://127.0.0.1:9443/v1/orders");
}

TEST_CASE("a postal endpoint: mistakes are errors that name the key and say why") {
  Folder f;
  struct Case {
    const char* yaml;
    const char* says;
  };
  for (const Case& k : {
           Case{R"({ url: "http://h:80" })",
                "postal.endpoints.postal.url must be https:// (the intake contract) or "
                "amqp://"},
           Case{R"({ timeout: 5s })", "postal.endpoints.postal needs 'url'"},
           Case{R"({ url: "amqps://h" })", "postal.endpoints.postal.url: "},
           Case{R"({ url: "amqp://h:99999/" })", "postal.endpoints.postal.url: "},
           Case{R"({ url: "https://h", queue: q })", "postal.endpoints.postal.queue belongs to an amqp:// endpoint"},
           Case{R"({ url: "https://h", reply_timeout: 1m })", "postal.endpoints.postal.reply_timeout belongs to"},
           Case{R"({ url: "amqp://h", connections: 4 })", "postal.endpoints.postal.connections belongs to an https://"},
           Case{R"({ url: "amqp://h", queue: "" })", "postal.endpoints.postal.queue must be a queue name"},
           Case{R"({ url: "amqp://h", reply_queue: amq.gen-1 })",
                "postal.endpoints.postal.reply_queue must be a queue"},
           Case{R"({ url: "amqp://h", queue: a, reply_queue: a })", "reply_queue must differ from its queue"},
           Case{R"({ url: "amqp://h", reply_timeout: 1500ms })", "reply_timeout is whole seconds"},
           Case{R"({ url: "amqp://h", reply_timeout: later })",
                "postal.endpoints.postal.reply_timeout must be a duration"},
           Case{R"({ url: "amqp://h", replies: q })", "unknown key 'replies' in postal.endpoints.postal"},
       }) {
    INFO(k.yaml);
    const std::string error = load_error(f.write_endpoint(k.yaml));
    CHECK(error.find(k.says) != std::string::npos);
    CHECK(error.find("hub.yaml:7:") != std::string::npos);  // file:line:column of the culprit
  }
  const std::string error = load_error(f.write_endpoint(R"({ url: "amqp://hub:secret@h:99999/" })"));
  CHECK(error.find("secret") == std::string::npos);
}

TEST_CASE("a tab in the indentation is named at its place, and a missing file says so") {
  Folder f;
  const std::string error = load_error(f.write("store:\n\tkind: sqlite\n"));
  CHECK_THAT(error, Catch::Contains("hub.yaml:9:1: a tab in the indentation: YAML indents with spaces only"));
  CHECK_THAT(load_error(f.dir / "nowhere.yaml"), Catch::EndsWith("nowhere.yaml: cannot read the file"));
}
