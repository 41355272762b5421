#include "hub/service/intake_order.hpp"

#include <boost/json.hpp>

namespace dh::service {
namespace json = boost::json;

namespace {

json::object address(const std::optional<Address>& a) {
  json::object o;
  if (!a) return o;
  auto put = [&](const char* k, const std::optional<std::string>& v) {
    if (v) o.emplace(k, *v);
  };
  put("line", a->line);
  put("ward_code", a->current_ward_code ? a->current_ward_code : a->ward_code);
  put("ward_name", a->current_ward_code ? a->current_ward_name : a->ward_name);
  put("district_code", a->district_code);
  put("district_name", a->district_name);
  put("province_code", a->province_code);
  put("province_name", a->province_name);
  return o;
}

json::object party(const std::string& name, const std::optional<std::string>& phone, const std::optional<Address>& a) {
  json::object o{{"name", name}};
  if (phone) o.emplace("phone", *phone);
  o.emplace("address", address(a));
  return o;
}

}  // namespace

std::string intake_order_json(const Dossier& d, const std::string& order_id, const std::string& post_office) {
  json::object o;
  o.emplace("order_id", order_id);
  o.emplace("service", to_string(d.kind));
  o.emplace("dossier_code", d.dossier_code);
  o.emplace("agency_organ_id", d.agency.organ_id);
  o.emplace("post_office", post_office);
  const Person& citizen = d.recipient ? *d.recipient : d.applicant;
  if (d.kind == DossierKind::result_delivery) {
    o.emplace("sender", party(d.agency.name, std::nullopt, d.pickup_address));
    o.emplace("receiver", party(citizen.full_name, citizen.phone, d.delivery_address));
  } else {
    o.emplace("sender", party(d.applicant.full_name, d.applicant.phone, d.pickup_address));
    o.emplace("receiver", party(d.agency.name, std::nullopt, d.delivery_address));
  }
  json::array items;
  for (const auto& it : d.items)
    items.push_back(json::object{{"name", it.name}, {"quantity", it.quantity}, {"original", it.original}});
  o.emplace("items", std::move(items));
  o.emplace("cod_amount", d.fees.cod_amount);
  if (d.dates.due_at) o.emplace("due_at", d.dates.due_at->to_rfc3339());
  if (d.note) o.emplace("note", *d.note);
  return json::serialize(o);
}

}  // namespace dh::service
