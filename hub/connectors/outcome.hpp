// The one vocabulary of outcomes every connector speaks: delivered, retry later, reject. A
// connector only classifies an answer; the dispatcher owns backoff, retry limits and dead letters.
// Pure functions of the answer (and of `now`, for a Retry-After date).
#pragma once

#include "hub/common/result.hpp"
#include "hub/connectors/https_client.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace dh::connectors {

enum class Outcome {
  delivered,  // the partner has it (for a postal order: with an item code)
  retry,      // may succeed later: 408, 429, 5xx, network errors
  reject,     // will never succeed as it is: other 4xx, an unusable answer; goes to dead letters
};
std::string_view to_string(Outcome o) noexcept;

struct Classification {
  Outcome outcome = Outcome::retry;
  // Safe text for logs and the outbox's last_error: status code or network error, and why; never
  // a body (bodies may hold personal data).
  std::string reason;
  std::optional<std::string> item_code;    // postal orders: the waybill the postal core assigned
  bool duplicate = false;                  // postal orders: 409, the order existed already
  std::chrono::milliseconds min_delay{0};  // Retry-After on 429/503: do not retry sooner
};

// Postal intake (docs/architecture.md, "Postal intake contract"): 201/200 with an item_code delivered; 409
// with the existing item_code delivered (duplicate); 408, 429, 5xx and network errors retry;
// other 4xx reject; a 2xx or 409 without a valid item_code rejects (retrying would not give one).
// The rules on the answer itself, however it came (an HTTP answer, a reply on a queue): its
// status, the item code it carried (when it had one of S10 shape), the partner's Retry-After
// (counted on 429 and 503) and `reason`, the safe text to start the classification's reason with.
Classification classify_postal_answer(unsigned status, std::optional<std::string> item_code,
                                      std::chrono::milliseconds retry_after, std::string reason);
// An HTTP answer (or the network error instead of one) under those rules.
Classification classify_postal_intake(const HttpResult& r, std::chrono::system_clock::time_point now);

// A postal core's reply to an intake order on AMQP (docs/operations.md, "A postal core on
// AMQP"): a JSON object {"status": <HTTP-like code>, "item_code": "...", "title", "detail"}.
struct PostalReply {
  unsigned status = 0;
  std::optional<std::string> item_code;  // present only when it has the S10 shape
};
// The reply, or why it cannot be read (safe text: never a value from the body).
dh::Outcome<PostalReply> parse_postal_reply(std::string_view body);
// The reply under classify_postal_answer()'s rules (reason "reply <status>").
Classification classify_postal_reply(const PostalReply& reply);

// Agency callbacks: 2xx delivered; 408, 429, 5xx and network errors retry; other 4xx reject.
Classification classify_agency_callback(const HttpResult& r, std::chrono::system_clock::time_point now);

// Retry-After (RFC 9110 10.2.3): delay-seconds or an IMF-fixdate, as a delay from `now` (0 for
// a date in the past); nullopt when absent or unreadable.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           std::chrono::system_clock::time_point now);

// Whether `s` has the shape of a UPU S10 item identifier: two capital letters, eight digits and a
// check digit, two capital letters (EB123456785VN). The check digit itself is not verified: the
// contract's own example (EB123456789VN) does not satisfy it, and the postal core owns its numbers.
bool is_item_code(std::string_view s) noexcept;

// The "item_code" of a JSON object body, when it is there and has the S10 shape.
std::optional<std::string> item_code_of(std::string_view body);

}  // namespace dh::connectors
