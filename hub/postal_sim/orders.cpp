#include "hub/postal_sim/orders.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <stdexcept>
#include <unistd.h>

namespace dh::postal_sim {
namespace json = boost::json;
namespace fs = std::filesystem;

// ---------------------------------------------------------------- S10

int s10_check_digit(std::string_view serial) {
  static constexpr int kWeights[8] = {8, 6, 4, 2, 3, 5, 9, 7};
  if (serial.size() != 8) return -1;
  int sum = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    if (serial[i] < '0' || serial[i] > '9') return -1;
    sum += (serial[i] - '0') * kWeights[i];
  }
  const int c = 11 - sum % 11;
  return c == 10 ? 0 : c == 11 ? 5 : c;
}

std::string make_item_code(std::uint32_t serial) {
  char digits[16];
  std::snprintf(digits, sizeof digits, "%08u", static_cast<unsigned>(serial % 100000000u));
  const std::string eight(digits, 8);
  return "EB" + eight + static_cast<char>('0' + s10_check_digit(eight)) + "VN";
}

bool s10_valid(std::string_view code) {
  if (code.size() != 13) return false;
  auto upper = [](char c) { return c >= 'A' && c <= 'Z'; };
  if (!upper(code[0]) || !upper(code[1]) || !upper(code[11]) || !upper(code[12])) return false;
  const int check = s10_check_digit(code.substr(2, 8));
  return check >= 0 && code[10] == static_cast<char>('0' + check);
}

// ---------------------------------------------------------------- validation

namespace {

void text(const json::object& o, std::string_view key, const std::string& path, bool required, std::size_t max,
          FieldErrors& errors) {
  const auto* v = o.if_contains(key);
  const std::string p = path + "/" + std::string(key);
  if (!v) {
    if (required) errors.add(p, "is required");
    return;
  }
  if (!v->is_string()) return errors.add(p, "must be text");
  const auto n = v->get_string().size();
  if (n == 0 || n > max) errors.add(p, "must be text of 1 to " + std::to_string(max) + " bytes");
}

bool e164(std::string_view s) {
  if (s.size() < 8 || s.size() > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9') return false;
  return std::all_of(s.begin() + 1, s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

void party(const json::object& o, std::string_view key, FieldErrors& errors) {
  const std::string p = "/" + std::string(key);
  const auto* v = o.if_contains(key);
  if (!v) return errors.add(p, "is required");
  const auto* party = v->if_object();
  if (!party) return errors.add(p, "must be an object with name, phone and address");
  text(*party, "name", p, true, 200, errors);
  if (const auto* phone = party->if_contains("phone")) {
    if (!phone->is_string() || !e164(phone->get_string())) errors.add(p + "/phone", "must be an E.164 phone number");
  }
  const auto* address = party->if_contains("address");
  if (!address) return errors.add(p + "/address", "is required");
  if (!address->is_object()) return errors.add(p + "/address", "must be an object");
  for (const auto& kv : address->get_object()) {
    if (!kv.value().is_string() || kv.value().get_string().size() > 500)
      errors.add(p + "/address/" + std::string(kv.key()), "must be text of at most 500 bytes");
  }
}

}  // namespace

FieldErrors validate_order(const json::value& value) {
  FieldErrors errors;
  const auto* o = value.if_object();
  if (!o) {
    errors.add("", "the order must be a JSON object");
    return errors;
  }
  text(*o, "order_id", "", true, 100, errors);
  if (const auto* s = o->if_contains("service")) {
    if (!s->is_string() || (s->get_string() != "result_delivery" && s->get_string() != "dossier_pickup"))
      errors.add("/service", "must be result_delivery or dossier_pickup");
  } else {
    errors.add("/service", "is required");
  }
  text(*o, "dossier_code", "", true, 100, errors);
  text(*o, "agency_organ_id", "", true, 100, errors);
  text(*o, "post_office", "", true, 50, errors);
  party(*o, "sender", errors);
  party(*o, "receiver", errors);
  if (const auto* items = o->if_contains("items")) {
    if (!items->is_array()) {
      errors.add("/items", "must be an array");
    } else {
      std::size_t i = 0;
      for (const auto& item : items->get_array()) {
        const std::string p = "/items/" + std::to_string(i++);
        const auto* io = item.if_object();
        if (!io) {
          errors.add(p, "must be an object with name, quantity and original");
          continue;
        }
        text(*io, "name", p, true, 200, errors);
        const auto* q = io->if_contains("quantity");
        if (!q)
          errors.add(p + "/quantity", "is required");
        else if (!q->is_int64() && !q->is_uint64())
          errors.add(p + "/quantity", "must be a whole number");
        else if (const auto n = q->is_int64()
                                    ? q->get_int64()
                                    : static_cast<std::int64_t>(std::min<std::uint64_t>(q->get_uint64(), 1u << 30));
                 n < 1 || n > 10000)
          errors.add(p + "/quantity", "must be from 1 to 10000");
        if (const auto* orig = io->if_contains("original"); orig && !orig->is_bool())
          errors.add(p + "/original", "must be true or false");
      }
    }
  } else {
    errors.add("/items", "is required");
  }
  if (const auto* cod = o->if_contains("cod_amount")) {
    if (!(cod->is_int64() && cod->get_int64() >= 0) && !cod->is_uint64())
      errors.add("/cod_amount", "must be a whole number of dong, 0 or more");
  } else {
    errors.add("/cod_amount", "is required");
  }
  if (const auto* due = o->if_contains("due_at")) {
    if (!due->is_string() || !Timestamp::parse_rfc3339(due->get_string()))
      errors.add("/due_at", "must be an RFC 3339 date-time with offset");
  }
  if (const auto* note = o->if_contains("note"); note && (!note->is_string() || note->get_string().size() > 1000))
    errors.add("/note", "must be text of at most 1000 bytes");
  return errors;
}

// ---------------------------------------------------------------- events

std::vector<PlannedEvent> plan_events(const Timestamp& placed, std::chrono::milliseconds step, double failure_rate,
                                      double reorder_rate, const std::function<double()>& random) {
  std::vector<std::pair<std::string, std::optional<std::string>>> statuses{
      {"picked_up", {}}, {"in_transit", {}}, {"out_for_delivery", {}}};
  for (int failures = 0; failures < 2 && random() < failure_rate; ++failures) {
    statuses.emplace_back("delivery_failed", "recipient_absent");
    statuses.emplace_back("out_for_delivery", std::nullopt);
  }
  statuses.emplace_back("delivered", std::nullopt);
  std::vector<PlannedEvent> plan;
  const auto base =
      std::chrono::sys_time<std::chrono::nanoseconds>(placed.utc) + std::chrono::nanoseconds(placed.nanos);
  for (std::size_t k = 0; k < statuses.size(); ++k) {
    PlannedEvent e;
    e.status = statuses[k].first;
    e.reason = statuses[k].second;
    e.send_after = step * static_cast<long>(k + 1);
    const auto at = std::chrono::floor<std::chrono::milliseconds>(base + e.send_after);
    e.at.utc = std::chrono::floor<std::chrono::seconds>(at);
    e.at.nanos = static_cast<std::int32_t>(std::chrono::nanoseconds(at - e.at.utc).count());
    e.at.offset_minutes = kVietnamOffsetMinutes;
    plan.push_back(std::move(e));
  }
  if (plan.size() >= 2 && random() < reorder_rate) {
    const auto i = std::min(plan.size() - 2, static_cast<std::size_t>(random() * static_cast<double>(plan.size() - 1)));
    std::swap(plan[i].send_after, plan[i + 1].send_after);
  }
  return plan;
}

std::string Order::event_id(std::size_t index) const {
  return item_code + "-" + std::to_string(index + 1);
}

std::string Order::status() const {
  std::string s = "ordered";
  for (const auto& e : plan)
    if (e.acked) s = e.status;
  return s;
}

namespace {

json::object plan_json(const PlannedEvent& e) {
  json::object o{{"status", e.status}, {"at", e.at.to_rfc3339()}, {"send_after_ms", e.send_after.count()}};
  if (e.reason) o.emplace("reason", *e.reason);
  return o;
}

}  // namespace

json::object Order::to_json() const {
  json::array events;
  for (std::size_t i = 0; i < plan.size(); ++i) {
    auto e = plan_json(plan[i]);
    e.emplace("event_id", event_id(i));
    e.emplace("acked", plan[i].acked);
    events.push_back(std::move(e));
  }
  return json::object{{"order_id", order_id},
                      {"item_code", item_code},
                      {"idempotency_key", idempotency_key},
                      {"received_at", received_at.to_rfc3339()},
                      {"status", status()},
                      {"order", request},
                      {"events", std::move(events)}};
}

// ---------------------------------------------------------------- the order book

OrderBook::OrderBook(fs::path journal) : path_(std::move(journal)) {
  std::error_code ec;
  if (path_.has_parent_path()) fs::create_directories(path_.parent_path(), ec);
  {
    std::ifstream in(path_);
    std::string line;
    while (std::getline(in, line))
      if (!line.empty()) replay(line);
  }
  file_ = std::fopen(path_.c_str(), "a");
  if (!file_) throw std::runtime_error("cannot open the order journal " + path_.string() + ": " + std::strerror(errno));
}

OrderBook::~OrderBook() {
  if (file_) std::fclose(file_);
}

void OrderBook::replay(const std::string& line) {
  boost::system::error_code ec;
  const json::value v = json::parse(line, ec);
  const auto* o = v.if_object();
  if (ec || !o || !o->contains("type") || !o->at("type").is_string()) {
    ++skipped_;  // a torn write at a crash, or an edited file
    return;
  }
  auto str = [&](const json::object& obj, std::string_view k) -> std::string {
    const auto* x = obj.if_contains(k);
    return x && x->is_string() ? std::string(x->get_string()) : std::string();
  };
  const auto type = o->at("type").get_string();
  if (type == "order") {
    Order order;
    order.order_id = str(*o, "order_id");
    order.idempotency_key = str(*o, "key");
    order.item_code = str(*o, "item_code");
    order.sha256 = str(*o, "sha256");
    const auto received = Timestamp::parse_rfc3339(str(*o, "received_at"));
    const auto* request = o->if_contains("order");
    const auto* plan = o->if_contains("plan");
    if (order.order_id.empty() || !s10_valid(order.item_code) || !received || !request || !request->is_object() ||
        !plan || !plan->is_array()) {
      ++skipped_;
      return;
    }
    order.received_at = *received;
    order.request = request->get_object();
    for (const auto& p : plan->get_array()) {
      if (!p.is_object()) continue;
      PlannedEvent e;
      e.status = str(p.get_object(), "status");
      if (const auto* r = p.get_object().if_contains("reason"); r && r->is_string())
        e.reason = std::string(r->get_string());
      if (auto at = Timestamp::parse_rfc3339(str(p.get_object(), "at"))) e.at = *at;
      if (const auto* ms = p.get_object().if_contains("send_after_ms"); ms && ms->is_int64())
        e.send_after = std::chrono::milliseconds(ms->get_int64());
      order.plan.push_back(std::move(e));
    }
    const auto serial = static_cast<std::uint32_t>(std::stoul(order.item_code.substr(2, 8)));
    last_serial_ = std::max(last_serial_, serial);
    keys_[order.idempotency_key] = order.order_id;
    orders_[order.order_id] = std::move(order);
  } else if (type == "acked") {
    auto it = orders_.find(str(*o, "order_id"));
    const auto* index = o->if_contains("index");
    if (it == orders_.end() || !index || !index->is_int64() || index->get_int64() < 0 ||
        static_cast<std::size_t>(index->get_int64()) >= it->second.plan.size()) {
      ++skipped_;
      return;
    }
    it->second.plan[static_cast<std::size_t>(index->get_int64())].acked = true;
  } else {
    ++skipped_;
  }
}

Outcome<void> OrderBook::append(const json::object& line) {
  return append_lines(json::serialize(line) + '\n');
}

Outcome<void> OrderBook::append_lines(const std::string& text) {
  if (std::fwrite(text.data(), 1, text.size(), file_) != text.size() || std::fflush(file_) != 0 ||
      ::fsync(::fileno(file_)) != 0)
    return make_error("cannot write the order journal: " + std::string(std::strerror(errno)));
  return {};
}

const Order* OrderBook::by_key(std::string_view key) const {
  auto it = keys_.find(key);
  return it == keys_.end() ? nullptr : by_order_id(it->second);
}

const Order* OrderBook::by_order_id(std::string_view order_id) const {
  auto it = orders_.find(order_id);
  return it == orders_.end() ? nullptr : &it->second;
}

Outcome<const Order*> OrderBook::add(Order order) {
  const Order* kept = add_pending(std::move(order));
  const std::string id = kept->order_id;
  if (auto flushed = flush(); !flushed) return flushed.error();
  return by_order_id(id);
}

const Order* OrderBook::add_pending(Order order) {
  json::array plan;
  for (const auto& e : order.plan) plan.push_back(plan_json(e));
  // dossier_code at the top too: tools and tests count orders per dossier with one jq filter.
  const auto* code = order.request.if_contains("dossier_code");
  json::object line{{"type", "order"},
                    {"order_id", order.order_id},
                    {"dossier_code", code ? *code : json::value()},
                    {"key", order.idempotency_key},
                    {"item_code", order.item_code},
                    {"sha256", order.sha256},
                    {"received_at", order.received_at.to_rfc3339()},
                    {"order", order.request},
                    {"plan", std::move(plan)}};
  pending_text_ += json::serialize(line);
  pending_text_ += '\n';
  pending_ids_.insert(order.order_id);
  const auto serial = static_cast<std::uint32_t>(std::stoul(order.item_code.substr(2, 8)));
  last_serial_ = std::max(last_serial_, serial);
  keys_[order.idempotency_key] = order.order_id;
  auto& kept = orders_[order.order_id];
  kept = std::move(order);
  return &kept;
}

Outcome<void> OrderBook::flush() {
  if (pending_ids_.empty()) return {};
  auto written = append_lines(pending_text_);
  pending_text_.clear();
  if (!written) {
    for (const auto& id : pending_ids_) {
      auto it = orders_.find(id);
      if (it == orders_.end()) continue;
      keys_.erase(it->second.idempotency_key);
      orders_.erase(it);
    }
  }
  pending_ids_.clear();
  return written;
}

Outcome<void> OrderBook::ack(std::string_view order_id, std::size_t index) {
  auto it = orders_.find(order_id);
  if (it == orders_.end() || index >= it->second.plan.size()) return make_error("no such order event");
  if (it->second.plan[index].acked) return {};
  it->second.plan[index].acked = true;
  return append(json::object{{"type", "acked"}, {"order_id", order_id}, {"index", index}});
}

Outcome<void> OrderBook::ack_all(const std::vector<std::pair<std::string, std::size_t>>& events) {
  std::string text;
  std::vector<PlannedEvent*> newly;
  for (const auto& [order_id, index] : events) {
    auto it = orders_.find(order_id);
    if (it == orders_.end() || index >= it->second.plan.size()) return make_error("no such order event");
    PlannedEvent& e = it->second.plan[index];
    if (e.acked || std::find(newly.begin(), newly.end(), &e) != newly.end()) continue;
    newly.push_back(&e);
    text += json::serialize(json::object{{"type", "acked"}, {"order_id", order_id}, {"index", index}});
    text += '\n';
  }
  if (text.empty()) return {};
  if (auto written = append_lines(text); !written) return written.error();
  for (auto* e : newly) e->acked = true;  // only once the journal has them
  return {};
}

}  // namespace dh::postal_sim
