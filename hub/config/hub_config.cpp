#include "hub/config/hub_config.hpp"

#include "hub/common/distinguished_name.hpp"
#include "hub/config/yaml_reader.hpp"
#include "hub/queue/amqp_url.hpp"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <initializer_list>
#include <set>
#include <sstream>

namespace dh::config {
namespace fs = std::filesystem;

std::optional<std::chrono::milliseconds> parse_duration(std::string_view t) {
  std::size_t i = 0;
  while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
  if (i == 0) return std::nullopt;
  long long v = 0;
  std::from_chars(t.data(), t.data() + i, v);
  const std::string_view unit = t.substr(i);
  if (unit == "ms") return std::chrono::milliseconds(v);
  if (unit == "s") return std::chrono::seconds(v);
  if (unit == "m") return std::chrono::minutes(v);
  if (unit == "h") return std::chrono::hours(v);
  return std::nullopt;
}

std::string order_url(const Endpoint& e) {
  if (e.kind == EndpointKind::https) return e.url + "/v1/orders";
  auto b = queue::parse_amqp_url(e.url);  // checked at load
  return (b ? queue::to_display(*b) : std::string("amqp")) + " queue " + e.queue;
}

namespace {

constexpr std::string_view kLanguage = "dossier-hub/config/v1";

class Reader : public YamlReader {
 public:
  using YamlReader::YamlReader;

  double real(const YAML::Node& n, std::string_view what, double lo, double hi) const {
    double v = 0;
    try {
      v = n.as<double>();
    } catch (const YAML::Exception&) {
      fail(n, std::string(what) + " must be a number");
    }
    if (v < lo || v > hi)
      fail(n, std::string(what) + " must be between " + std::to_string(lo) + " and " + std::to_string(hi));
    return v;
  }
  std::chrono::milliseconds duration(const YAML::Node& n, std::string_view what) const {
    auto d = parse_duration(text(n, what));
    if (!d || d->count() <= 0) fail(n, std::string(what) + " must be a duration such as 250ms, 10s, 5m");
    return *d;
  }
  std::size_t bytes(const YAML::Node& n, std::string_view what) const {
    const std::string s = text(n, what);
    std::size_t mult = 1;
    std::string digits = s;
    if (s.size() > 3 && s.substr(s.size() - 3) == "KiB")
      mult = 1024, digits = s.substr(0, s.size() - 3);
    else if (s.size() > 3 && s.substr(s.size() - 3) == "MiB")
      mult = 1024 * 1024, digits = s.substr(0, s.size() - 3);
    std::size_t v = 0;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec != std::errc() || p != digits.data() + digits.size() || v == 0)
      fail(n, std::string(what) + " must be a size such as 1048576, 64KiB or 4MiB");
    return v * mult;
  }
  Listener listener(const YAML::Node& n, std::string_view what) const {
    keys(n, what, {"address", "port"});
    Listener l;
    if (n["address"]) l.address = text(n["address"], "address");
    if (n["port"]) l.port = number<std::uint16_t>(n["port"], "port", 0, 65535);
    return l;
  }
};

}  // namespace

HubConfig HubConfig::load(const fs::path& file) {
  HubConfig c;
  c.file = file;
  Reader r(file);
  const YAML::Node root = r.load();
  r.keys(root, "the configuration",
         {"hub", "listen", "tls", "client_tls", "limits", "workers", "store", "mappings", "routes", "postal",
          "dispatcher", "queue", "callbacks", "log"});
  if (!root["hub"] || r.text(root["hub"], "hub") != kLanguage)
    r.fail(root["hub"] ? root["hub"] : root, "the configuration starts with 'hub: " + std::string(kLanguage) + "'");
  if (const auto l = root["listen"]) {
    r.keys(l, "listen", {"agencies", "admin"});
    if (l["agencies"]) c.agencies = r.listener(l["agencies"], "listen.agencies");
    if (l["admin"]) c.admin = r.listener(l["admin"], "listen.admin");
  }
  if (!root["tls"]) r.fail(root, "the configuration needs 'tls' (the hub's certificate, key and the partners' CA)");
  c.tls = r.tls(root["tls"], "tls");
  if (!root["client_tls"]) r.fail(root, "the configuration needs 'client_tls' (the hub's client certificate)");
  c.client_tls = r.tls(root["client_tls"], "client_tls");
  if (const auto l = root["limits"]) {
    r.keys(l, "limits",
           {"max_body_bytes", "max_header_bytes", "handshake_timeout", "read_timeout", "idle_timeout",
            "max_connections", "agency_rate", "agency_burst", "max_pending_writes"});
    if (l["max_body_bytes"]) c.limits.max_body_bytes = r.bytes(l["max_body_bytes"], "max_body_bytes");
    if (l["max_header_bytes"]) c.limits.max_header_bytes = r.bytes(l["max_header_bytes"], "max_header_bytes");
    if (l["handshake_timeout"]) c.limits.handshake_timeout = r.duration(l["handshake_timeout"], "handshake_timeout");
    if (l["read_timeout"]) c.limits.read_timeout = r.duration(l["read_timeout"], "read_timeout");
    if (l["idle_timeout"]) c.limits.idle_timeout = r.duration(l["idle_timeout"], "idle_timeout");
    if (l["max_connections"])
      c.limits.max_connections = r.number<std::size_t>(l["max_connections"], "max_connections", 1, 100000);
    if (l["agency_rate"]) c.limits.agency_rate = r.real(l["agency_rate"], "agency_rate", 0.1, 1e6);
    if (l["agency_burst"]) c.limits.agency_burst = r.real(l["agency_burst"], "agency_burst", 1, 1e7);
    if (l["max_pending_writes"])
      c.limits.max_pending_writes = r.number<std::size_t>(l["max_pending_writes"], "max_pending_writes", 1, 10000000);
  }
  if (root["workers"]) c.workers = r.number<unsigned>(root["workers"], "workers", 1, 256);
  if (const auto s = root["store"]) {
    r.keys(s, "store", {"kind", "file", "batch", "url", "connect_timeout", "statement_timeout", "read_connections"});
    if (s["kind"]) {
      const std::string kind = r.text(s["kind"], "store.kind");
      if (kind == "postgres")
        c.store_kind = StoreKind::postgres;
      else if (kind != "sqlite")
        r.fail(s["kind"], "store.kind must be sqlite (the embedded store) or postgres (shared by several hubs)");
    }
    // Each kind's own keys: one of the other kind is a mistake worth saying, not a key to ignore.
    const bool shared = c.store_kind == StoreKind::postgres;
    for (const char* key : {"url", "connect_timeout", "statement_timeout", "read_connections"})
      if (!shared && s[key]) r.fail(s[key], std::string("store.") + key + " belongs to store.kind: postgres");
    if (shared && s["file"]) r.fail(s["file"], "store.file belongs to store.kind: sqlite");
    if (s["file"]) c.store_file = r.path(s["file"], "store.file");
    if (s["batch"]) c.store_batch = r.number<std::size_t>(s["batch"], "store.batch", 1, 10000);
    if (shared) {
      auto& pg = c.store_postgres;
      if (!s["url"]) r.fail(s, "store.kind: postgres needs store.url (postgresql://user@host:port/database)");
      pg.url = r.text(s["url"], "store.url");
      if (!pg.url.starts_with("postgresql://") && !pg.url.starts_with("postgres://"))
        r.fail(s["url"], "store.url must be a postgresql:// URL");
      if (s["connect_timeout"]) pg.connect_timeout = r.duration(s["connect_timeout"], "store.connect_timeout");
      if (s["statement_timeout"]) pg.statement_timeout = r.duration(s["statement_timeout"], "store.statement_timeout");
      if (s["read_connections"])
        pg.read_connections = r.number<std::size_t>(s["read_connections"], "store.read_connections", 1, 256);
    }
  }
  if (root["mappings"])
    c.mappings = r.path(root["mappings"], "mappings");
  else
    c.mappings = (file.parent_path() / c.mappings).lexically_normal();
  if (root["routes"])
    c.routes = r.path(root["routes"], "routes");
  else
    c.routes = (file.parent_path() / c.routes).lexically_normal();
  if (!root["postal"]) r.fail(root, "the configuration needs 'postal' (the postal core's identity and endpoints)");
  {
    const auto p = root["postal"];
    r.keys(p, "postal", {"identity", "endpoints"});
    if (!p["identity"]) r.fail(p, "postal needs 'identity' (the postal core's client certificate)");
    const auto id = p["identity"];
    r.keys(id, "postal.identity", {"subject_cn", "san_uri", "san_dns", "issuer"});
    if (id["subject_cn"]) c.postal_identity.subject_cn = r.text(id["subject_cn"], "subject_cn");
    if (id["san_uri"]) c.postal_identity.san_uri = r.text(id["san_uri"], "san_uri");
    if (id["san_dns"]) c.postal_identity.san_dns = r.text(id["san_dns"], "san_dns");
    if (!id["issuer"]) r.fail(id, "postal.identity needs 'issuer'");
    c.postal_identity.issuer = r.text(id["issuer"], "issuer");
    auto dn = parse_dn(c.postal_identity.issuer);
    if (!dn) r.fail(id["issuer"], "postal.identity.issuer is not a distinguished name");
    c.postal_identity.issuer_dn = std::move(*dn);
    if (!c.postal_identity.subject_cn && !c.postal_identity.san_uri && !c.postal_identity.san_dns)
      r.fail(id, "postal.identity needs at least one of subject_cn, san_uri, san_dns");
    if (!p["endpoints"] || !p["endpoints"].IsMap() || p["endpoints"].size() == 0)
      r.fail(p, "postal needs 'endpoints' (name -> url)");
    for (const auto& kv : p["endpoints"]) {
      const std::string name = kv.first.Scalar();
      const std::string where = "postal.endpoints." + name;
      const auto& n = kv.second;
      r.keys(n, where, {"url", "timeout", "connections", "queue", "reply_queue", "reply_timeout"});
      Endpoint e;
      if (!n["url"]) r.fail(n, where + " needs 'url' (https://host:port, or amqp://user:password@host:port/vhost)");
      e.url = r.text(n["url"], where + ".url");
      if (e.url.rfind("amqp://", 0) == 0 || e.url.rfind("amqps://", 0) == 0) {
        e.kind = EndpointKind::amqp;
        if (auto b = queue::parse_amqp_url(e.url); !b) r.fail(n["url"], where + ".url: " + b.error().message);
      } else if (e.url.rfind("https://", 0) != 0) {
        r.fail(n["url"], where + ".url must be https:// (the intake contract) or amqp:// (a postal core on a queue)");
      }
      // Each kind's own keys: one of the other kind is a mistake worth saying, not a key to ignore.
      const bool amqp = e.kind == EndpointKind::amqp;
      for (const char* key : {"queue", "reply_queue", "reply_timeout"})
        if (!amqp && n[key]) r.fail(n[key], where + "." + key + " belongs to an amqp:// endpoint");
      if (amqp && n["connections"])
        r.fail(n["connections"], where + ".connections belongs to an https:// endpoint (amqp uses one publisher)");
      if (n["timeout"]) e.timeout = r.duration(n["timeout"], where + ".timeout");
      if (n["connections"]) e.connections = r.number<std::size_t>(n["connections"], where + ".connections", 1, 1024);
      auto queue_name = [&](const char* key) {
        const std::string q = r.text(n[key], where + "." + key);
        // AMQP queue names are short strings; amq. is the broker's own namespace.
        if (q.empty() || q.size() > 255 || q.rfind("amq.", 0) == 0)
          r.fail(n[key], where + "." + key + " must be a queue name of 1 to 255 bytes, not starting with amq.");
        return q;
      };
      if (n["queue"]) e.queue = queue_name("queue");
      if (n["reply_queue"]) e.reply_queue = queue_name("reply_queue");
      if (amqp && e.queue == e.reply_queue)
        r.fail(n["reply_queue"] ? n["reply_queue"] : n, where + ".reply_queue must differ from its queue");
      if (n["reply_timeout"]) {
        const auto d = r.duration(n["reply_timeout"], where + ".reply_timeout");
        if (d.count() % 1000 != 0 || d < std::chrono::seconds(1))
          r.fail(n["reply_timeout"], where + ".reply_timeout is whole seconds, at least 1s");
        e.reply_timeout = std::chrono::duration_cast<std::chrono::seconds>(d);
      }
      c.endpoints.emplace(name, std::move(e));
    }
  }
  if (const auto d = root["dispatcher"]) {
    r.keys(d, "dispatcher", {"max_attempts", "backoff", "breaker", "poll", "lease", "batch", "concurrency"});
    if (d["max_attempts"]) c.dispatcher.max_attempts = r.number<int>(d["max_attempts"], "max_attempts", 1, 1000);
    if (const auto b = d["backoff"]) {
      r.keys(b, "dispatcher.backoff", {"initial", "max", "multiplier", "jitter"});
      if (b["initial"]) c.dispatcher.backoff.initial = r.duration(b["initial"], "initial");
      if (b["max"]) c.dispatcher.backoff.max = r.duration(b["max"], "max");
      if (b["multiplier"]) c.dispatcher.backoff.multiplier = r.real(b["multiplier"], "multiplier", 1.0, 10.0);
      if (b["jitter"]) c.dispatcher.backoff.jitter = r.real(b["jitter"], "jitter", 0.0, 1.0);
    }
    if (const auto b = d["breaker"]) {
      r.keys(b, "dispatcher.breaker", {"failures", "open_for"});
      if (b["failures"]) c.dispatcher.breaker.failures = r.number<int>(b["failures"], "failures", 1, 10000);
      if (b["open_for"]) c.dispatcher.breaker.open_for = r.duration(b["open_for"], "open_for");
    }
    if (d["poll"]) c.dispatcher.poll = r.duration(d["poll"], "poll");
    if (d["lease"])
      c.dispatcher.lease = std::chrono::duration_cast<std::chrono::seconds>(r.duration(d["lease"], "lease"));
    if (d["batch"]) c.dispatcher.batch = r.number<std::size_t>(d["batch"], "batch", 1, 10000);
    if (d["concurrency"]) c.dispatcher.concurrency = r.number<std::size_t>(d["concurrency"], "concurrency", 1, 10000);
  }
  if (const auto q = root["queue"]) {
    r.keys(
        q, "queue",
        {"kind", "url", "prefetch", "publish_batch", "confirm_timeout", "retry_tiers", "heartbeat", "republish_after"});
    Queue queue;
    if (q["kind"] && r.text(q["kind"], "queue.kind") != "rabbitmq")
      r.fail(q["kind"], "queue.kind: this build has one queue kind: rabbitmq");
    if (!q["url"]) r.fail(q, "queue needs 'url' (amqp://user:password@host:port/vhost)");
    queue.url = r.text(q["url"], "queue.url");
    if (auto b = queue::parse_amqp_url(queue.url); !b) r.fail(q["url"], "queue.url: " + b.error().message);
    if (q["prefetch"]) queue.prefetch = r.number<std::uint16_t>(q["prefetch"], "queue.prefetch", 1, 65535);
    if (q["publish_batch"])
      queue.publish_batch = r.number<std::size_t>(q["publish_batch"], "queue.publish_batch", 1, 10000);
    if (q["confirm_timeout"]) queue.confirm_timeout = r.duration(q["confirm_timeout"], "queue.confirm_timeout");
    if (q["heartbeat"]) {
      const auto h = r.duration(q["heartbeat"], "queue.heartbeat");
      if (h.count() % 1000 != 0) r.fail(q["heartbeat"], "queue.heartbeat is whole seconds (AMQP negotiates seconds)");
      queue.heartbeat = std::chrono::duration_cast<std::chrono::seconds>(h);
    }
    if (const auto tiers = q["retry_tiers"]) {
      if (!tiers.IsSequence() || tiers.size() == 0 || tiers.size() > 20)
        r.fail(tiers, "queue.retry_tiers must be a list of 1 to 20 durations, such as [1s, 5s, 30s, 2m, 10m]");
      queue.retry_tiers.clear();
      for (const auto& t : tiers) {
        const auto d = r.duration(t, "a retry tier");
        if (d > std::chrono::hours(24)) r.fail(t, "a retry tier is at most 24h");
        if (!queue.retry_tiers.empty() && d <= queue.retry_tiers.back())
          r.fail(t, "queue.retry_tiers must be in ascending order, each once");
        queue.retry_tiers.push_back(d);
      }
    }
    if (q["republish_after"]) {
      const auto d = r.duration(q["republish_after"], "queue.republish_after");
      if (d <= queue.retry_tiers.back() || d.count() % 1000 != 0)
        r.fail(q["republish_after"],
               "queue.republish_after is whole seconds, longer than the longest retry tier (else a delayed entry "
               "would be published a second time while it waits)");
      queue.republish_after = std::chrono::duration_cast<std::chrono::seconds>(d);
    }
    if (queue.republish_after <= queue.retry_tiers.back())
      r.fail(q, "queue.republish_after must be longer than the longest retry tier");
    c.queue = std::move(queue);
  }
  if (const auto cb = root["callbacks"]) {
    r.keys(cb, "callbacks", {"redirect"});
    if (cb["redirect"]) {
      c.callback_redirect = r.text(cb["redirect"], "callbacks.redirect");
      if (c.callback_redirect.rfind("https://", 0) != 0) r.fail(cb["redirect"], "callbacks.redirect must be https://");
      while (!c.callback_redirect.empty() && c.callback_redirect.back() == '/') c.callback_redirect.pop_back();
    }
  }
  if (const auto l = root["log"]) {
    r.keys(l, "log", {"level"});
    if (l["level"]) {
      c.log_level = r.text(l["level"], "log.level");
      if (c.log_level != "debug" && c.log_level != "info" && c.log_level != "warn" && c.log_level != "error")
        r.fail(l["level"], "log.level must be debug, info, warn or error");
    }
  }
  return c;
}

}  // namespace dh::config
