#include "hub/postal_sim/sim_config.hpp"

#include "hub/config/yaml_reader.hpp"
#include "hub/queue/amqp_url.hpp"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <initializer_list>
#include <set>
#include <sstream>

namespace dh::postal_sim {
namespace fs = std::filesystem;
namespace json = boost::json;

constexpr std::string_view kLanguage = "postal-sim/config/v1";

// ---------------------------------------------------------------- run-time knobs

namespace {

std::optional<double> share(const json::value& v) {
  if (!v.is_number()) return std::nullopt;
  const double d = v.to_number<double>();
  if (d < 0 || d > 1) return std::nullopt;
  return d;
}

std::optional<std::chrono::milliseconds> duration(const json::value& v) {
  if (!v.is_string()) return std::nullopt;
  return config::parse_duration(v.get_string());
}

std::string duration_text(std::chrono::milliseconds d) {
  return std::to_string(d.count()) + "ms";
}

}  // namespace

Result<Faults> apply_faults(Faults f, const json::value& knobs, std::chrono::system_clock::time_point now) {
  FieldErrors errors;
  const auto* o = knobs.if_object();
  if (!o) return FieldErrors("", "the faults must be a JSON object");
  for (const auto& kv : *o) {
    const std::string key(kv.key());
    const std::string path = "/" + key;
    const auto& v = kv.value();
    if (key == "error_rate" || key == "duplicate_events" || key == "reorder_events" || key == "delivery_failure_rate") {
      const auto s = share(v);
      if (!s) {
        errors.add(path, "must be a number from 0 to 1");
        continue;
      }
      if (key == "error_rate")
        f.error_rate = *s;
      else if (key == "duplicate_events")
        f.duplicate_events = *s;
      else if (key == "reorder_events")
        f.reorder_events = *s;
      else
        f.delivery_failure_rate = *s;
    } else if (key == "latency" || key == "down_for" || key == "step") {
      const auto d = duration(v);
      if (!d || (key == "step" && d->count() <= 0)) {
        errors.add(path, key == "step" ? "must be a duration above zero such as 250ms or 2s"
                                       : "must be a duration such as 0s, 250ms or 10s");
        continue;
      }
      if (key == "latency")
        f.latency = *d;
      else if (key == "step")
        f.step = *d;
      else
        f.down_until = now + *d;
    } else {
      errors.add(path,
                 "is not a fault knob (error_rate, latency, down_for, duplicate_events, reorder_events, step, "
                 "delivery_failure_rate)");
    }
  }
  if (!errors.empty()) return errors;
  return f;
}

json::object faults_json(const Faults& f, std::chrono::system_clock::time_point now) {
  const auto left = f.down_until > now ? std::chrono::ceil<std::chrono::milliseconds>(f.down_until - now)
                                       : std::chrono::milliseconds(0);
  return json::object{{"error_rate", f.error_rate},
                      {"latency", duration_text(f.latency)},
                      {"down_for", duration_text(left)},
                      {"duplicate_events", f.duplicate_events},
                      {"reorder_events", f.reorder_events},
                      {"step", duration_text(f.step)},
                      {"delivery_failure_rate", f.delivery_failure_rate}};
}

// ---------------------------------------------------------------- the file

namespace {

class Reader : public config::YamlReader {
 public:
  using YamlReader::YamlReader;

  double share(const YAML::Node& n, std::string_view what) const {
    double v = 0;
    try {
      v = n.as<double>();
    } catch (const YAML::Exception&) {
      fail(n, std::string(what) + " must be a number from 0 to 1");
    }
    if (!(v >= 0 && v <= 1)) fail(n, std::string(what) + " must be a number from 0 to 1");
    return v;
  }
  std::chrono::milliseconds duration(const YAML::Node& n, std::string_view what, bool zero_ok) const {
    auto d = config::parse_duration(text(n, what));
    if (!d || d->count() < 0 || (!zero_ok && d->count() == 0))
      fail(n, std::string(what) + " must be a duration such as " + (zero_ok ? "0s, " : "") + "250ms, 10s, 5m");
    return *d;
  }
};

}  // namespace

SimConfig SimConfig::load(const fs::path& file) {
  SimConfig c;
  c.file = file;
  Reader r(file);
  const YAML::Node root = r.load();
  r.keys(root, "the configuration",
         {"postal_sim", "listen", "tls", "client_tls", "hub", "journal", "events", "faults", "amqp", "seed", "log"});
  if (!root["postal_sim"] || r.text(root["postal_sim"], "postal_sim") != kLanguage)
    r.fail(root["postal_sim"] ? root["postal_sim"] : root,
           "the configuration starts with 'postal_sim: " + std::string(kLanguage) + "'");
  if (const auto l = root["listen"]) {
    r.keys(l, "listen", {"address", "port"});
    if (l["address"]) c.listen.address = r.text(l["address"], "listen.address");
    if (l["port"]) c.listen.port = r.number<std::uint16_t>(l["port"], "listen.port", 0, 65535);
  }
  if (!root["tls"])
    r.fail(root, "the configuration needs 'tls' (the simulator's certificate, key and the clients' CA)");
  c.tls = r.tls(root["tls"], "tls");
  if (!root["client_tls"])
    r.fail(root, "the configuration needs 'client_tls' (the certificate it presents to the hub, and the hub's CA)");
  c.client_tls = r.tls(root["client_tls"], "client_tls");
  if (const auto h = root["hub"]) {
    r.keys(h, "hub", {"url", "timeout", "subject_cn"});
    if (h["url"]) {
      c.hub_url = r.text(h["url"], "hub.url");
      if (c.hub_url.rfind("https://", 0) != 0) r.fail(h["url"], "hub.url must be https://");
      while (!c.hub_url.empty() && c.hub_url.back() == '/') c.hub_url.pop_back();
    }
    if (h["timeout"]) c.hub_timeout = r.duration(h["timeout"], "hub.timeout", false);
    if (h["subject_cn"]) c.orders_cn = r.text(h["subject_cn"], "hub.subject_cn");
  }
  if (root["journal"])
    c.journal = r.path(root["journal"], "journal");
  else
    c.journal = (file.parent_path() / c.journal).lexically_normal();
  if (const auto e = root["events"]) {
    r.keys(e, "events", {"step", "delivery_failure_rate", "retry_interval", "batch"});
    if (e["step"]) c.faults.step = r.duration(e["step"], "events.step", false);
    if (e["delivery_failure_rate"])
      c.faults.delivery_failure_rate = r.share(e["delivery_failure_rate"], "events.delivery_failure_rate");
    if (e["retry_interval"]) c.retry_interval = r.duration(e["retry_interval"], "events.retry_interval", false);
    if (e["batch"]) c.batch = r.number<std::size_t>(e["batch"], "events.batch", 1, 1000);
  }
  if (const auto f = root["faults"]) {
    r.keys(f, "faults", {"error_rate", "latency", "down_for", "duplicate_events", "reorder_events"});
    if (f["error_rate"]) c.faults.error_rate = r.share(f["error_rate"], "faults.error_rate");
    if (f["latency"]) c.faults.latency = r.duration(f["latency"], "faults.latency", true);
    if (f["down_for"])
      c.faults.down_until = std::chrono::system_clock::now() + r.duration(f["down_for"], "faults.down_for", true);
    if (f["duplicate_events"]) c.faults.duplicate_events = r.share(f["duplicate_events"], "faults.duplicate_events");
    if (f["reorder_events"]) c.faults.reorder_events = r.share(f["reorder_events"], "faults.reorder_events");
  }
  if (const auto a = root["amqp"]) {
    r.keys(a, "amqp", {"url", "queue", "prefetch"});
    SimAmqp amqp;
    if (!a["url"]) r.fail(a, "amqp needs 'url' (amqp://user:password@host:port/vhost)");
    amqp.url = r.text(a["url"], "amqp.url");
    if (auto b = queue::parse_amqp_url(amqp.url); !b) r.fail(a["url"], "amqp.url: " + b.error().message);
    if (a["queue"]) {
      amqp.queue = r.text(a["queue"], "amqp.queue");
      if (amqp.queue.empty() || amqp.queue.size() > 255 || amqp.queue.rfind("amq.", 0) == 0)
        r.fail(a["queue"], "amqp.queue must be a queue name of 1 to 255 bytes, not starting with amq.");
    }
    if (a["prefetch"]) amqp.prefetch = r.number<std::uint16_t>(a["prefetch"], "amqp.prefetch", 1, 10000);
    c.amqp = std::move(amqp);
  }
  if (root["seed"]) c.seed = r.number<std::uint64_t>(root["seed"], "seed", 0, UINT64_MAX);
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

}  // namespace dh::postal_sim
