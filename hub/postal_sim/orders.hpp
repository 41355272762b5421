// The postal core simulator's orders: what an intake order must hold (docs/postal-sim.md,
// "POST /v1/orders"; the hub's side: docs/architecture.md, "Postal intake contract"), waybill
// numbers in the UPU S10 format, the status events each order will report, and the order book: in
// memory and in an append-only JSON-lines journal (fsync'd before an order is answered), so that a
// restarted simulator still knows every order, its item code and which of its events the hub has
// acknowledged.
#pragma once

#include "hub/common/result.hpp"
#include "hub/common/time.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dh::postal_sim {

// ---------------------------------------------------------------- UPU S10 item identifiers

// The S10 check digit of eight serial digits: weights 8 6 4 2 3 5 9 7, 11 - (sum mod 11), where
// 10 becomes 0 and 11 becomes 5. -1 when `serial` is not eight digits.
int s10_check_digit(std::string_view serial);
// "EB" + the serial in eight digits + its check digit + "VN". `serial` is 1..99'999'999.
std::string make_item_code(std::uint32_t serial);
// Shape and check digit.
bool s10_valid(std::string_view item_code);

// ---------------------------------------------------------------- intake orders

// Every field that is missing or malformed, as JSON Pointer paths with a safe reason (values are
// never quoted: orders hold names, phones and addresses). Empty: the order is valid. Unknown
// fields are ignored (a tolerant reader), the contract's fields are checked.
FieldErrors validate_order(const boost::json::value& order);

// ---------------------------------------------------------------- status events

struct PlannedEvent {
  std::string status;                       // picked_up, in_transit, out_for_delivery, delivery_failed, delivered
  std::optional<std::string> reason;        // delivery_failed only
  Timestamp at;                             // occurred_at, +07:00
  std::chrono::milliseconds send_after{0};  // after the order was placed
  bool acked = false;                       // the hub answered 2xx (or refused it for good)
};

// picked_up, in_transit, out_for_delivery, then delivered; each delivery attempt fails with
// `failure_rate` (at most twice), adding delivery_failed and out_for_delivery again. Event k
// occurs at placed + k * step and is sent then, except that with `reorder_rate` two neighbouring
// events swap their send times (the later status reaches the hub first). `random` is uniform in [0, 1).
std::vector<PlannedEvent> plan_events(const Timestamp& placed, std::chrono::milliseconds step, double failure_rate,
                                      double reorder_rate, const std::function<double()>& random);

struct Order {
  std::string order_id;
  std::string idempotency_key;
  std::string item_code;
  std::string sha256;  // of the order as parsed and written again: same key, same order?
  Timestamp received_at;
  boost::json::object request;  // the order as placed
  std::vector<PlannedEvent> plan;

  [[nodiscard]] std::string event_id(std::size_t index) const;  // "<item_code>-<n>", n from 1
  // The latest status the hub acknowledged, in plan order; "ordered" before the first.
  [[nodiscard]] std::string status() const;
  [[nodiscard]] boost::json::object to_json() const;  // GET /v1/orders/{order_id}
};

class OrderBook {
 public:
  // Opens the journal (creating it and its folder) and reads every order back; a torn last line
  // is skipped. Throws std::runtime_error naming the file (start-up only).
  explicit OrderBook(std::filesystem::path journal);
  ~OrderBook();
  OrderBook(const OrderBook&) = delete;
  OrderBook& operator=(const OrderBook&) = delete;

  [[nodiscard]] const Order* by_key(std::string_view idempotency_key) const;
  [[nodiscard]] const Order* by_order_id(std::string_view order_id) const;
  [[nodiscard]] std::uint32_t next_serial() const noexcept { return last_serial_ + 1; }
  [[nodiscard]] std::size_t size() const noexcept { return orders_.size(); }
  [[nodiscard]] std::size_t skipped_lines() const noexcept { return skipped_; }
  [[nodiscard]] const std::map<std::string, Order, std::less<>>& orders() const noexcept { return orders_; }

  // Journals the order (written and fsync'd) and keeps it. Fails when the journal cannot be written.
  Outcome<const Order*> add(Order order);
  // Group commit, for the simulator's order path: the order is kept at once (a repeat of its key
  // finds it) and its journal line queued; flush() writes every queued line with one fsync. Until
  // then the order is pending and must not be acknowledged. A flush that fails forgets the
  // pending orders: they were never acknowledged, so the hub sends them again.
  const Order* add_pending(Order order);
  Outcome<void> flush();
  [[nodiscard]] bool pending(std::string_view order_id) const { return pending_ids_.contains(order_id); }
  [[nodiscard]] bool has_pending() const noexcept { return !pending_ids_.empty(); }
  // The hub has event `index` (0-based in the plan) of the order.
  Outcome<void> ack(std::string_view order_id, std::size_t index);
  // The hub has all these events (one push): journalled with one fsync for the lot.
  Outcome<void> ack_all(const std::vector<std::pair<std::string, std::size_t>>& events);

 private:
  Outcome<void> append(const boost::json::object& line);
  Outcome<void> append_lines(const std::string& text);  // whole lines, then one fsync
  void replay(const std::string& line);

  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
  std::map<std::string, Order, std::less<>> orders_;      // by order_id
  std::map<std::string, std::string, std::less<>> keys_;  // idempotency key -> order_id
  std::set<std::string, std::less<>> pending_ids_;        // kept, journal line not yet flushed
  std::string pending_text_;                              // their journal lines
  std::uint32_t last_serial_ = 0;
  std::size_t skipped_ = 0;
};

}  // namespace dh::postal_sim
