// How an outbox entry reaches its target, one attempt at a time. A connector sends and classifies
// (hub/connectors/outcome.hpp); the dispatcher owns what follows: retries, backoff, breakers, dead
// letters and the store. Each postal endpoint has the connector its URL names (https:// or
// amqp://); agency callbacks go over HTTPS.
//
// Delivery semantics: send() sends the entry at most once per call, carrying the entry id as the
// idempotency key, so that the target deduplicates a repeat. Either the target answered (or could
// not be reached) and the attempt says what that means, or the target took the entry and will
// answer later on its own channel (a postal core on AMQP once the broker confirmed the order): the
// entry is then "handed over" and stays leased until the answer comes (Dispatcher::record_reply)
// or `answer_within` passes, when it is sent again.
#pragma once

#include "hub/connectors/https_client.hpp"
#include "hub/connectors/outcome.hpp"
#include "hub/store/store.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>

namespace dh::dispatcher {

struct Attempt {
  connectors::Classification classification;   // what the answer means (unless handed_over)
  bool handed_over = false;                    // the target took it and answers later
  std::chrono::milliseconds answer_within{0};  // handed_over: how long the entry waits for the answer
  std::string status;                          // for the log: the answer's status code, "" without one
  std::string error;                           // for the log: why there was no answer (safe text)
};

class Connector {
 public:
  virtual ~Connector() = default;
  // One attempt; never throws. The entry outlives the call.
  virtual boost::asio::awaitable<Attempt> send(const store::OutboxEntry& entry) = 0;
};

// Where an entry goes now, with the headers that endpoint wants besides Content-Type (the
// configuration of the moment: hub/service/destination.hpp); nullopt: the URL it was queued with.
struct Destination {
  std::string url;
  connectors::Headers headers;
};
using DestinationResolver = std::function<std::optional<Destination>(const store::OutboxEntry&)>;

// The postal intake contract and agency callbacks over HTTPS: POST to the entry's destination
// with `Idempotency-Key: <entry id>`, the answer classified by the entry's kind.
class HttpsConnector final : public Connector {
 public:
  HttpsConnector(connectors::HttpClient& client, std::function<std::chrono::system_clock::time_point()> now)
      : client_(client), now_(std::move(now)) {}
  boost::asio::awaitable<Attempt> send(const store::OutboxEntry& entry) override;
  // Before the first send; without one, every entry goes to the URL it was queued with.
  void resolve_destinations(DestinationResolver resolve) { resolve_ = std::move(resolve); }

 private:
  connectors::HttpClient& client_;
  std::function<std::chrono::system_clock::time_point()> now_;  // Retry-After dates
  DestinationResolver resolve_;
};

}  // namespace dh::dispatcher
