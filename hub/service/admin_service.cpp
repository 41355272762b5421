#include "hub/service/admin_service.hpp"

#include "hub/common/await_done.hpp"
#include "hub/observability/log.hpp"
#include "hub/service/query.hpp"

#include <boost/json.hpp>

#include <charconv>

namespace dh::service {

namespace http = boost::beast::http;
namespace json = boost::json;
namespace asio = boost::asio;
using edge::Request;
using edge::Response;

namespace {

Response bad(std::string reason, unsigned version) {
  return problem_response(400, "urn:dossier-hub:problem:bad-request", "Bad request", FieldErrors("", std::move(reason)),
                          version);
}

std::size_t number_param(std::string_view query, std::string_view name, std::size_t fallback, std::size_t max) {
  if (auto v = query_param(query, name)) {
    std::size_t n = 0;
    auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec == std::errc() && ptr == v->data() + v->size()) return std::min(n, max);
  }
  return fallback;
}

json::object entry_json(const store::OutboxEntry& e, bool with_payload) {
  json::object o{{"id", e.id},
                 {"kind", store::to_string(e.kind)},
                 {"target", e.target},
                 {"hub_id", e.hub_id},
                 {"url", e.url},
                 {"attempts", e.attempts},
                 {"last_error", e.last_error},
                 {"due_at", e.due_at.to_rfc3339()}};
  if (with_payload) {
    o.emplace("content_type", e.content_type);
    o.emplace("payload", e.payload);
  }
  return o;
}

json::object dead_json(const store::DeadLetter& d, bool with_payload) {
  return json::object{{"id", d.id},
                      {"reason", d.reason},
                      {"dead_at", d.dead_at.to_rfc3339()},
                      {"entry", entry_json(d.entry, with_payload)}};
}

// {"ids": [...], "actor": "name"}: the ids to act on and who acts (for the audit log).
bool read_ids(const std::string& body, std::vector<std::string>& ids, std::string& actor, std::string& error) {
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    error = "expected {\"ids\": [...], \"actor\": \"who\"}";
    return false;
  }
  const auto* arr = v.as_object().if_contains("ids");
  if (!arr || !arr->is_array() || arr->as_array().empty() || arr->as_array().size() > 1000) {
    error = "'ids' must be a list of 1 to 1000 dead letter ids";
    return false;
  }
  for (const auto& id : arr->as_array()) {
    if (!id.is_string()) {
      error = "'ids' must hold text";
      return false;
    }
    ids.emplace_back(id.get_string());
  }
  const auto* a = v.as_object().if_contains("actor");
  if (!a || !a->is_string() || a->get_string().empty() || a->get_string().size() > 100) {
    error = "'actor' must name who acts (it goes to the audit log)";
    return false;
  }
  actor = "admin:" + std::string(a->get_string());
  return true;
}

}  // namespace

AdminService::AdminService(Context& ctx, std::function<Outcome<std::string>()> reload)
    : ctx_(ctx), reload_(std::move(reload)) {}

asio::awaitable<Response> AdminService::handle(Request req, const edge::Peer& /*peer*/) {
  const unsigned version = req.version();
  const std::string target(req.target());
  const std::string path = target.substr(0, target.find('?'));
  const std::string query = target.find('?') == std::string::npos ? "" : target.substr(target.find('?') + 1);
  const bool get = req.method() == http::verb::get;
  const bool post = req.method() == http::verb::post;
  const auto now = ctx_.clock();
  Timestamp ts;
  ts.utc = std::chrono::time_point_cast<std::chrono::seconds>(now);
  ts.offset_minutes = kVietnamOffsetMinutes;
  auto unavailable = [&](const Error& e) {
    return problem_response(503, "urn:dossier-hub:problem:unavailable", "The store is unavailable",
                            FieldErrors("", e.message), version);
  };

  if (path == "/metrics" && get) {
    Response res = edge::text_response(http::status::ok, ctx_.metrics.exposition(), version);
    res.set(http::field::content_type, "text/plain; version=0.0.4");
    co_return res;
  }
  if (path == "/admin/dead-letters" && get) {
    const std::size_t limit = number_param(query, "limit", 100, 1000);
    const std::size_t offset = number_param(query, "offset", 0, SIZE_MAX);
    auto list = ctx_.store.dead_letters(limit, offset);
    auto total = ctx_.store.dead_letter_count();
    if (!list) co_return unavailable(list.error());
    json::array arr;
    for (const auto& d : *list) arr.push_back(dead_json(d, false));
    co_return json_response(
        http::status::ok,
        json::serialize(json::object{{"total", total ? static_cast<std::int64_t>(*total) : -1}, {"dead_letters", arr}}),
        version);
  }
  if (path.rfind("/admin/dead-letters/", 0) == 0 && get) {
    auto d = ctx_.store.dead_letter_by_id(std::string_view(path).substr(20));
    if (!d) co_return unavailable(d.error());
    if (!*d)
      co_return problem_response(404, "urn:dossier-hub:problem:not-found", "No such dead letter",
                                 FieldErrors("", "no dead letter has that id"), version);
    co_return json_response(http::status::ok, json::serialize(dead_json(**d, true)), version);
  }
  if ((path == "/admin/dead-letters/redrive" || path == "/admin/dead-letters/discard") && post) {
    std::vector<std::string> ids;
    std::string actor, error;
    if (!read_ids(req.body(), ids, actor, error)) co_return bad(error, version);
    const bool redrive = path.ends_with("redrive");
    const std::size_t asked = ids.size();
    auto done = co_await await_done<std::size_t>([&](store::Done<std::size_t> d) {
      if (redrive)
        ctx_.store.redrive(std::move(ids), actor, ts, std::move(d));
      else
        ctx_.store.discard(std::move(ids), actor, ts, std::move(d));
    });
    if (!done) co_return unavailable(done.error());
    obs::Log::info(redrive ? "dead_letters_redriven" : "dead_letters_discarded",
                   {{"actor", actor}, {"asked", std::to_string(asked)}, {"done", std::to_string(*done)}});
    co_return json_response(
        http::status::ok,
        json::serialize(json::object{{redrive ? "redriven" : "discarded", static_cast<std::int64_t>(*done)},
                                     {"asked", static_cast<std::int64_t>(asked)}}),
        version);
  }
  if (path == "/admin/rejections" && get) {
    auto list =
        ctx_.store.rejections(number_param(query, "limit", 100, 1000), number_param(query, "offset", 0, SIZE_MAX));
    if (!list) co_return unavailable(list.error());
    json::array arr;
    for (const auto& r : *list) {
      boost::system::error_code ec;
      json::value problem = json::parse(r.problem_json, ec);
      arr.push_back(json::object{{"id", r.id},
                                 {"agency_id", r.agency_id},
                                 {"sha256", r.sha256},
                                 {"received_at", r.received_at.to_rfc3339()},
                                 {"problem", ec ? json::value(r.problem_json) : problem}});
    }
    co_return json_response(http::status::ok, json::serialize(json::object{{"rejections", arr}}), version);
  }
  if (path.rfind("/admin/dossiers/", 0) == 0 && path.ends_with("/trace") && get) {
    const std::string id = path.substr(16, path.size() - 16 - 6);
    auto d = ctx_.store.dossier(id);
    if (!d) co_return unavailable(d.error());
    if (!*d)
      co_return problem_response(404, "urn:dossier-hub:problem:not-found", "No such dossier",
                                 FieldErrors("", "no dossier has that hub_id"), version);
    auto h = ctx_.store.history(id);
    json::value dossier = json::parse(stored_dossier_json(**d, h ? &*h : nullptr));
    json::array audit;
    for (const std::string& subject : {id, (*d)->message_id, (*d)->order_id.value_or("")}) {
      if (subject.empty()) continue;
      if (auto entries = ctx_.store.audit_for(subject)) {
        for (const auto& a : *entries)
          audit.push_back(json::object{{"seq", a.seq},
                                       {"at", a.at.to_rfc3339()},
                                       {"actor", a.actor},
                                       {"action", a.action},
                                       {"subject", a.subject},
                                       {"detail", a.detail}});
      }
    }
    dossier.as_object().emplace("audit", std::move(audit));
    co_return json_response(http::status::ok, json::serialize(dossier), version);
  }
  if (path == "/admin/mappings" && get) {
    const auto maps = ctx_.mappings.load();
    json::array arr;
    for (const auto& m : maps->mappings) {
      json::array types;
      for (const auto& t : m->message_types()) types.emplace_back(t);
      arr.push_back(json::object{{"agency", m->agency_id()},
                                 {"file", m->file().string()},
                                 {"format", to_string(m->source_format())},
                                 {"message_types", types},
                                 {"callback", m->has_callback()}});
    }
    co_return json_response(http::status::ok,
                            json::serialize(json::object{{"generation", static_cast<std::int64_t>(maps->generation)},
                                                         {"mappings", arr},
                                                         {"refused", to_json(maps->refused)}}),
                            version);
  }
  if (path == "/admin/mappings/reload" && post) {
    auto r = reload_();
    if (!r)
      co_return problem_response(422, "urn:dossier-hub:problem:mapping-invalid",
                                 "No mapping could be loaded: the running ones stay",
                                 FieldErrors("", r.error().message), version);
    co_return json_response(http::status::ok, *r, version);
  }
  if (path == "/admin/audit/verify" && get) {
    auto c = ctx_.store.verify_audit();
    if (!c) co_return unavailable(c.error());
    json::object o{{"ok", c->ok}, {"entries", c->entries}};
    if (c->first_bad_seq) o.emplace("first_bad_seq", *c->first_bad_seq);
    co_return json_response(c->ok ? http::status::ok : http::status::conflict, json::serialize(o), version);
  }
  co_return problem_response(404, "urn:dossier-hub:problem:not-found", "Not found",
                             FieldErrors("", "no such admin endpoint"), version);
}

}  // namespace dh::service
