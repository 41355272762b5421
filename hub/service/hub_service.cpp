#include "hub/service/hub_service.hpp"

#include "hub/common/await_done.hpp"
#include "hub/common/ids.hpp"
#include "hub/common/text.hpp"
#include "hub/observability/log.hpp"
#include "hub/service/destination.hpp"
#include "hub/service/intake_order.hpp"
#include "hub/service/query.hpp"
#include "hub/service/status_callbacks.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <sstream>

namespace dh::service {

namespace http = boost::beast::http;
namespace json = boost::json;
namespace asio = boost::asio;
using edge::Request;
using edge::Response;

namespace {

constexpr std::string_view kProblemBase = "urn:dossier-hub:problem:";
constexpr std::size_t kMaxEventsPerRequest = 1000;

Timestamp to_timestamp(std::chrono::system_clock::time_point tp) {
  Timestamp t;
  t.utc = std::chrono::time_point_cast<std::chrono::seconds>(tp);
  t.nanos = static_cast<std::int32_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(tp - t.utc).count() /
                                      1'000'000 * 1'000'000);
  t.offset_minutes = kVietnamOffsetMinutes;
  return t;
}

Response simple_problem(int status, std::string_view name, std::string_view title, std::string reason,
                        unsigned version) {
  FieldErrors e("", std::move(reason));
  return problem_response(status, std::string(kProblemBase) + std::string(name), title, e, version);
}

// The request id: the caller's X-Request-Id when it is short and printable, else a new one.
std::string request_id_of(const Request& req, std::chrono::system_clock::time_point now) {
  const auto it = req.find("X-Request-Id");
  if (it != req.end()) {
    const std::string_view v = it->value();
    if (!v.empty() && v.size() <= 64 &&
        std::all_of(v.begin(), v.end(), [](char c) { return c > 32 && c < 127 && c != '"' && c != '\\'; }))
      return std::string(v);
  }
  return make_id(now);
}

std::string media_type(const Request& req) {
  std::string ct(req[http::field::content_type]);
  std::transform(ct.begin(), ct.end(), ct.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  ct.erase(std::remove(ct.begin(), ct.end(), ' '), ct.end());
  return ct;
}

// Whether the Content-Type fits the agency's format (a charset other than UTF-8 does not).
bool acceptable_type(const std::string& ct, SourceFormat format) {
  const auto semi = ct.find(';');
  const std::string type = ct.substr(0, semi);
  if (semi != std::string::npos) {
    const std::string params = ct.substr(semi + 1);
    if (params.find("charset=") != std::string::npos && params.find("charset=utf-8") == std::string::npos &&
        params.find("charset=\"utf-8\"") == std::string::npos)
      return false;
  }
  if (format == SourceFormat::xml)
    return type == "application/xml" || type == "text/xml" || type == "application/soap+xml";
  return type == "application/json";
}

std::optional<std::string> header_key(const Request& req) {
  const auto it = req.find("Idempotency-Key");
  if (it == req.end()) return std::nullopt;
  const std::string_view v = it->value();
  if (v.empty() || v.size() > 200 || !std::all_of(v.begin(), v.end(), [](char c) { return c > 32 && c < 127; }))
    return std::string();  // present but unusable: refused by the caller
  return std::string(v);
}

}  // namespace

// ---------------------------------------------------------------- responses

Response json_response(http::status status, std::string body, unsigned version) {
  Response res{status, version};
  res.set(http::field::content_type, "application/json");
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response problem_response(int status, std::string_view type, std::string_view title, const FieldErrors& errors,
                          unsigned version) {
  json::object o{{"type", type}, {"title", title}, {"status", status}};
  json::array arr;
  for (const auto& e : errors.errors) arr.push_back(json::object{{"path", e.path}, {"reason", e.reason}});
  o.emplace("errors", std::move(arr));
  Response res{static_cast<http::status>(status), version};
  res.set(http::field::content_type, "application/problem+json");
  res.body() = json::serialize(o);
  res.prepare_payload();
  return res;
}

std::string stored_dossier_json(const store::StoredDossier& d, const std::vector<store::StatusEvent>* history) {
  Dossier shown = d.dossier;
  shown.status = std::string(to_string(d.status));
  json::object o{{"dossier", to_json(shown)}, {"status", to_string(d.status)}};
  if (d.order_id) o.emplace("order_id", *d.order_id);
  if (d.item_code) o.emplace("item_code", *d.item_code);
  if (!d.route_flags.empty()) {
    json::array flags;
    for (const auto& f : d.route_flags) flags.emplace_back(f);
    o.emplace("route_flags", std::move(flags));
  }
  if (history) {
    json::array h;
    for (const auto& e : *history) {
      json::object ev{{"event_id", e.event_id},
                      {"status", to_string(e.status)},
                      {"occurred_at", e.occurred_at.to_rfc3339()},
                      {"received_at", e.received_at.to_rfc3339()},
                      {"applied", e.applied}};
      if (e.item_code) ev.emplace("item_code", *e.item_code);
      if (e.reason) ev.emplace("reason", *e.reason);
      h.push_back(std::move(ev));
    }
    o.emplace("history", std::move(h));
  }
  return json::serialize(o);
}

// ---------------------------------------------------------------- routing

HubService::HubService(Context& ctx) : ctx_(ctx) {}

asio::awaitable<Response> HubService::handle(Request req, const edge::Peer& peer) {
  const auto started = std::chrono::steady_clock::now();
  const auto now = ctx_.clock();
  const std::string request_id = request_id_of(req, now);
  const unsigned version = req.version();
  const std::string target(req.target());
  const auto path = target.substr(0, target.find('?'));
  const std::string query = target.find('?') == std::string::npos ? "" : target.substr(target.find('?') + 1);
  Response res;
  std::string partner_id = "-";

  if (path == "/healthz") {
    res = edge::text_response(http::status::ok, "ok\n", version);
  } else if (path == "/readyz") {
    res = ctx_.store.healthy() ? edge::text_response(http::status::ok, "ready\n", version)
                               : edge::text_response(http::status::service_unavailable, "store unavailable\n", version);
    if (res.result() != http::status::ok) res.set(http::field::retry_after, "1");
  } else if (path == "/metrics") {
    res = edge::text_response(http::status::ok, ctx_.metrics.exposition(), version);
    res.set(http::field::content_type, "text/plain; version=0.0.4");
  } else if (!peer.certificate) {
    res = simple_problem(401, "no-client-certificate", "A client certificate is required",
                         "present the client certificate your agency was issued", version);
    res.set(http::field::www_authenticate, "mutual-tls");
  } else if (!peer.certificate_trusted) {
    res = simple_problem(403, "untrusted-certificate", "The client certificate is not trusted",
                         "the certificate does not chain to a CA this hub trusts", version);
  } else {
    const auto maps = ctx_.mappings.load();
    auto partner = identify(*peer.certificate, *maps, ctx_.config.postal_identity);
    if (!partner) {
      res = simple_problem(403, "unknown-partner", "The certificate belongs to no partner of this hub",
                           "no mapping's identity matches the certificate", version);
    } else {
      partner_id = partner->id;
      const bool agency = partner->kind == Partner::Kind::agency;
      if (path == "/v1/messages" && req.method() == http::verb::post) {
        if (!agency)
          res = simple_problem(403, "forbidden", "Only agencies post messages", "this certificate is the postal core's",
                               version);
        else
          res = co_await post_message(req, *partner, request_id);
      } else if (path == "/v1/postal/events" && req.method() == http::verb::post) {
        if (agency)
          res = simple_problem(403, "forbidden", "Only the postal core posts status events",
                               "this certificate is an agency's", version);
        else
          res = co_await post_events(req, request_id);
      } else if (path.rfind("/v1/dossiers/", 0) == 0 && req.method() == http::verb::get && agency) {
        res = get_dossier(req, *partner, std::string_view(path).substr(13));
      } else if (path == "/v1/dossiers" && req.method() == http::verb::get && agency) {
        res = find_dossiers(req, *partner, query);
      } else if (path == "/v1/messages" || path == "/v1/postal/events" || path == "/v1/dossiers" ||
                 path.rfind("/v1/dossiers/", 0) == 0) {
        res = simple_problem(405, "method-not-allowed", "Method not allowed",
                             std::string(req.method_string()) + " is not allowed on " + path, version);
      } else {
        res = simple_problem(404, "not-found", "Not found", "no such endpoint", version);
      }
    }
  }
  res.set("X-Request-Id", request_id);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const std::string status = std::to_string(res.result_int());
  ctx_.metrics
      .histogram("dossier_hub_request_seconds", "Time to answer a request, by endpoint",
                 {{"endpoint", path.rfind("/v1/dossiers/", 0) == 0 ? "/v1/dossiers/{id}" : path}})
      .observe(seconds);
  if (path != "/healthz" && path != "/readyz" && path != "/metrics")
    obs::Log::info("request", {{"request_id", request_id},
                               {"method", req.method_string()},
                               {"path", path.rfind("/v1/dossiers/", 0) == 0 ? "/v1/dossiers/{id}" : path},
                               {"partner", partner_id},
                               {"status", status},
                               {"ms", std::to_string(seconds * 1000.0)}});
  co_return res;
}

// ---------------------------------------------------------------- POST /v1/messages

asio::awaitable<Response> HubService::post_message(Request& req, const Partner& partner,
                                                   const std::string& request_id) {
  const unsigned version = req.version();
  const mapping::Mapping& m = *partner.mapping;
  auto count = [&](std::string_view outcome) {
    ctx_.metrics
        .counter("dossier_hub_messages_total", "Messages received, by agency and outcome",
                 {{"agency", partner.id}, {"outcome", std::string(outcome)}})
        .inc();
  };

  const auto& own = m.rate_limit();  // the agency's own, else the hub's default
  const double rate = own ? own->rate : ctx_.config.limits.agency_rate;
  const double burst = own ? own->burst : ctx_.config.limits.agency_burst;
  if (auto wait = limiter_.acquire(partner.id, rate, burst, std::chrono::steady_clock::now()); wait.count() > 0) {
    count("rate_limited");
    std::ostringstream why;
    why << "this agency exceeds its rate of " << rate << " requests per second";
    Response res = simple_problem(429, "rate-limited", "Too many requests", why.str(), version);
    res.set(http::field::retry_after, std::to_string(std::max<long long>(1, (wait.count() + 999) / 1000)));
    co_return res;
  }
  if (!acceptable_type(media_type(req), m.source_format())) {
    count("unsupported_media_type");
    co_return simple_problem(
        415, "unsupported-media-type", "Unsupported media type",
        std::string("this agency's messages are ") +
            (m.source_format() == SourceFormat::xml ? "application/xml (or text/xml, application/soap+xml)"
                                                    : "application/json") +
            " in UTF-8",
        version);
  }
  const auto key_header = header_key(req);
  if (key_header && key_header->empty()) {
    count("rejected");
    co_return simple_problem(400, "bad-idempotency-key", "Bad Idempotency-Key",
                             "Idempotency-Key must be 1 to 200 printable ASCII characters", version);
  }

  const auto now = ctx_.clock();
  const std::string body = std::move(req.body());
  const std::string sha = sha256_hex(body);
  mapping::ParseLimits limits;
  limits.max_bytes = ctx_.config.limits.max_body_bytes;
  auto translated = m.translate(body, limits);
  if (!translated) {
    count("rejected");
    const auto& p = translated.error();
    // The same problem that `translate` and `check` print: type, title, status, message_type, errors.
    Response res{static_cast<http::status>(mapping::http_status(p.type)), version};
    res.set(http::field::content_type, "application/problem+json");
    res.body() = json::serialize(mapping::to_json(p));
    res.prepare_payload();
    store::Rejection rej;
    rej.id = make_id(now);
    rej.agency_id = partner.id;
    rej.sha256 = sha;
    rej.problem_type = std::string(mapping::type_uri(p.type));
    rej.problem_json = res.body();
    rej.body = body;
    rej.received_at = to_timestamp(now);
    auto recorded = co_await await_done<void>(
        [&](store::Done<void> done) { ctx_.store.record_rejection(std::move(rej), std::move(done)); });
    if (!recorded)
      obs::Log::warn("rejection_not_recorded", {{"request_id", request_id}, {"error", recorded.error().message}});
    obs::Log::info("message_rejected", {{"request_id", request_id},
                                        {"agency", partner.id},
                                        {"problem", mapping::type_uri(p.type)},
                                        {"errors", std::to_string(p.errors.errors.size())}});
    co_return res;
  }

  auto& dossiers = translated->dossiers;
  // The idempotency key: the header, else the mapped message id (one dossier), else a key made
  // from every record's message id (a batch), else the body's SHA-256.
  std::string key;
  if (key_header) {
    key = *key_header;
  } else if (dossiers.size() == 1 && dossiers.front().source.message_id) {
    key = *dossiers.front().source.message_id;
  } else if (std::all_of(dossiers.begin(), dossiers.end(),
                         [](const Dossier& d) { return d.source.message_id.has_value(); })) {
    std::string joined;
    for (const auto& d : dossiers) joined += *d.source.message_id + "\n";
    key = "batch:" + sha256_hex(joined);
  } else {
    key = "sha256:" + sha;
  }

  store::AcceptRequest accept;
  accept.message.id = make_id(now);
  accept.message.agency_id = partner.id;
  accept.message.idempotency_key = key;
  accept.message.sha256 = sha;
  accept.message.content_type = std::string(req[http::field::content_type]);
  accept.message.message_type = translated->message_type;
  accept.message.body = body;
  accept.message.request_id = request_id;
  accept.message.received_at = to_timestamp(now);
  json::array answered;
  for (auto& d : dossiers) {
    store::StoredDossier sd;
    d.hub_id = make_id(now);
    d.received_at = to_timestamp(now);
    d.status = "accepted";
    d.source.sha256 = sha;
    router::RouteDecision decision;
    if (Address* a = router::RouteTable::citizen_address(d)) {
      decision = ctx_.routes.route(*a);
    } else {
      Address none;
      decision = ctx_.routes.route(none);
    }
    d.route = decision.route.post_office;
    sd.route_flags = decision.flags;
    const std::string order_id = make_id(now);
    sd.order_id = order_id;
    sd.message_id = accept.message.id;
    sd.status = Status::accepted;
    const auto ep = ctx_.config.endpoints.find(decision.route.endpoint);
    if (ep == ctx_.config.endpoints.end()) {
      obs::Log::error("route_without_endpoint", {{"request_id", request_id}, {"endpoint", decision.route.endpoint}});
      co_return simple_problem(500, "configuration", "The route names no configured postal endpoint",
                               "the hub's configuration is incomplete; the message was not stored", version);
    }
    store::OutboxEntry order;
    order.id = order_id;
    order.kind = store::OutboxKind::postal_order;
    order.target = decision.route.endpoint;
    order.hub_id = *d.hub_id;
    order.url = config::order_url(ep->second);
    order.content_type = "application/json";
    order.payload = intake_order_json(d, order_id, decision.route.post_office);
    order.due_at = to_timestamp(now);
    accept.outbox.push_back(std::move(order));
    answered.push_back(json::object{{"hub_id", *d.hub_id}, {"dossier_code", d.dossier_code}, {"status", "accepted"}});
    sd.dossier = std::move(d);
    accept.dossiers.push_back(std::move(sd));
  }
  accept.answer_json =
      json::serialize(json::object{{"receipt", accept.message.id}, {"duplicate", false}, {"dossiers", answered}});
  const std::size_t n = accept.dossiers.size();

  // Back-pressure: when the store falls behind, answer 503 now rather than queue without bound.
  if (pending_writes_.fetch_add(1) >= ctx_.config.limits.max_pending_writes) {
    pending_writes_.fetch_sub(1);
    count("unavailable");
    Response res =
        simple_problem(503, "unavailable", "The hub is busy", "nothing was stored; send the message again", version);
    res.set(http::field::retry_after, "1");
    co_return res;
  }
  auto result = co_await await_done<store::AcceptResult>(
      [&](store::Done<store::AcceptResult> done) { ctx_.store.accept(std::move(accept), std::move(done)); });
  pending_writes_.fetch_sub(1);
  if (!result) {
    count("unavailable");
    obs::Log::error("store_unavailable", {{"request_id", request_id}, {"error", result.error().message}});
    Response res = simple_problem(503, "unavailable", "The hub cannot store messages right now",
                                  "nothing was stored; send the message again", version);
    res.set(http::field::retry_after, "1");
    co_return res;
  }
  std::string answer = result->answer_json;
  if (result->duplicate) {
    boost::system::error_code ec;
    json::value v = json::parse(answer, ec);
    if (!ec && v.is_object()) {
      v.as_object()["duplicate"] = true;
      answer = json::serialize(v);
    }
  }
  count(result->duplicate ? "duplicate" : "accepted");
  obs::Log::info("message_accepted", {{"request_id", request_id},
                                      {"agency", partner.id},
                                      {"message_type", translated->message_type},
                                      {"dossiers", std::to_string(n)},
                                      {"duplicate", result->duplicate ? "true" : "false"}});
  co_return json_response(http::status::accepted, std::move(answer), version);
}

// ---------------------------------------------------------------- POST /v1/postal/events

asio::awaitable<Response> HubService::post_events(Request& req, const std::string& request_id) {
  const unsigned version = req.version();
  boost::system::error_code ec;
  json::parse_options opt;
  opt.max_depth = 16;
  const json::value v = json::parse(req.body(), ec, {}, opt);
  if (ec || !v.is_object() || !v.as_object().contains("events") || !v.at("events").is_array()) {
    co_return simple_problem(400, "malformed-message", "The events are not well-formed",
                             "expected a JSON object with an array 'events'", version);
  }
  const auto& arr = v.at("events").as_array();
  if (arr.size() > kMaxEventsPerRequest)
    co_return simple_problem(413, "too-many-events", "Too many events",
                             "at most " + std::to_string(kMaxEventsPerRequest) + " events per request", version);
  FieldErrors errors;
  std::vector<store::StatusEvent> events;
  const auto now = to_timestamp(ctx_.clock());
  for (std::size_t i = 0; i < arr.size(); ++i) {
    const std::string p = "/events/" + std::to_string(i);
    const auto* o = arr[i].if_object();
    if (!o) {
      errors.add(p, "must be an object");
      continue;
    }
    auto str = [&](const char* k, bool required) -> std::optional<std::string> {
      const auto* x = o->if_contains(k);
      if (!x || x->is_null()) {
        if (required) errors.add(p + "/" + k, "is required");
        return std::nullopt;
      }
      if (!x->is_string() || x->get_string().empty() || x->get_string().size() > 200) {
        errors.add(p + "/" + k, "must be text of 1 to 200 characters");
        return std::nullopt;
      }
      return std::string(x->get_string());
    };
    store::StatusEvent e;
    e.event_id = str("event_id", true).value_or("");
    e.order_id = str("order_id", true).value_or("");
    e.item_code = str("item_code", false);
    e.reason = str("reason", false);
    if (auto s = str("status", true)) {
      auto st = parse_status(*s);
      if (!st || *st == Status::accepted || *st == Status::ordered || *st == Status::dead_lettered)
        errors.add(p + "/status",
                   "must be one of picked_up, in_transit, out_for_delivery, delivered, "
                   "delivery_failed, returned, cancelled");
      else
        e.status = *st;
    }
    if (auto t = str("occurred_at", true)) {
      auto ts = Timestamp::parse_rfc3339(*t);
      if (!ts)
        errors.add(p + "/occurred_at", "must be an RFC 3339 date-time with offset");
      else
        e.occurred_at = *ts;
    }
    for (const auto& kv : *o) {
      const std::string_view k = kv.key();
      if (k != "event_id" && k != "order_id" && k != "item_code" && k != "status" && k != "occurred_at" &&
          k != "reason")
        errors.add(p + "/" + std::string(k), "is not a field of a status event");
    }
    e.received_at = now;
    events.push_back(std::move(e));
  }
  if (!errors.empty())
    co_return problem_response(422, std::string(kProblemBase) + "invalid-events", "Some events are not valid", errors,
                               version);

  const store::CallbackMaker make = status_callbacks(ctx_);
  json::array results;
  for (auto& e : events) {
    const std::string event_id = e.event_id;
    auto outcome = co_await await_done<store::EventOutcome>(
        [&](store::Done<store::EventOutcome> done) { ctx_.store.apply_event(std::move(e), make, std::move(done)); });
    if (!outcome) {
      obs::Log::error("store_unavailable", {{"request_id", request_id}, {"error", outcome.error().message}});
      Response res = simple_problem(503, "unavailable", "The hub cannot store events right now",
                                    "events before this one were stored; send the batch again", version);
      res.set(http::field::retry_after, "1");
      co_return res;
    }
    ctx_.metrics
        .counter("dossier_hub_status_events_total", "Postal status events, by outcome",
                 {{"outcome", std::string(store::to_string(*outcome))}})
        .inc();
    results.push_back(json::object{{"event_id", event_id}, {"outcome", store::to_string(*outcome)}});
  }
  co_return json_response(http::status::ok, json::serialize(json::object{{"results", results}}), version);
}

// ---------------------------------------------------------------- GET /v1/dossiers

Response HubService::get_dossier(const Request& req, const Partner& partner, std::string_view hub_id) {
  auto d = ctx_.store.dossier(hub_id);
  if (!d) return simple_problem(503, "unavailable", "The store is unavailable", "try again", req.version());
  // Another agency's dossier is answered exactly like a missing one: its existence is not shown.
  if (!*d || (*d)->dossier.agency.id != partner.id)
    return simple_problem(404, "not-found", "No such dossier", "no dossier of this agency has that hub_id",
                          req.version());
  auto h = ctx_.store.history(hub_id);
  if (!h) return simple_problem(503, "unavailable", "The store is unavailable", "try again", req.version());
  return json_response(http::status::ok, stored_dossier_json(**d, &*h), req.version());
}

Response HubService::find_dossiers(const Request& req, const Partner& partner, std::string_view query) {
  const std::string code = query_param(query, "dossier_code").value_or("");
  if (code.empty())
    return simple_problem(400, "bad-query", "A dossier_code is required", "GET /v1/dossiers?dossier_code=...",
                          req.version());
  auto ds = ctx_.store.dossiers_by_code(partner.id, code);
  if (!ds) return simple_problem(503, "unavailable", "The store is unavailable", "try again", req.version());
  std::string body = "{\"dossiers\":[";
  bool first = true;
  for (const auto& d : *ds) {
    auto h = ctx_.store.history(d.dossier.hub_id.value_or(""));
    body += (first ? "" : ",") + stored_dossier_json(d, h ? &*h : nullptr);
    first = false;
  }
  body += "]}";
  return json_response(http::status::ok, std::move(body), req.version());
}

}  // namespace dh::service
