#include "hub/service/status_callbacks.hpp"

#include "hub/common/ids.hpp"
#include "hub/observability/log.hpp"
#include "hub/service/destination.hpp"

namespace dh::service {

store::CallbackMaker status_callbacks(const Context& ctx) {
  return [&ctx](const store::StoredDossier& before, const store::StatusEvent& ev) {
    std::vector<store::OutboxEntry> out;
    const auto maps = ctx.mappings.load();
    const mapping::Mapping* m = maps->find(before.dossier.agency.id);
    const std::string status(to_string(ev.status));
    if (!m || !m->reports(status)) return out;
    mapping::StatusReport r;
    r.status = status;
    r.dossier_code = before.dossier.dossier_code;
    r.hub_id = before.dossier.hub_id;
    r.message_id = before.dossier.source.message_id;
    r.organ_id = before.dossier.agency.organ_id;
    r.item_code = ev.item_code ? ev.item_code : before.item_code;
    r.event_id = ev.event_id;
    r.reason = ev.reason;
    r.post_office = before.dossier.route;
    r.event_time = ev.occurred_at;
    auto rendered = m->render_callback(r);
    if (!rendered) {
      obs::Log::error("callback_not_rendered", {{"agency", m->agency_id()}, {"error", rendered.error().message}});
      return out;
    }
    store::OutboxEntry cb;
    cb.id = make_id(ctx.clock());
    cb.kind = store::OutboxKind::agency_callback;
    cb.target = m->agency_id();
    cb.hub_id = before.dossier.hub_id.value_or("");
    cb.url = callback_url(ctx.config, *m);
    cb.content_type = rendered->content_type;
    cb.payload = std::move(rendered->body);
    cb.due_at = ev.received_at;
    out.push_back(std::move(cb));
    return out;
  };
}

}  // namespace dh::service
