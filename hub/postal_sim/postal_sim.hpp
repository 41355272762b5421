// The postal core simulator: what the hub's postal connector talks to in development and tests.
// An HTTPS listener (mTLS) implementing the postal intake contract (docs/architecture.md): POST /v1/orders
// places an order idempotently (the same Idempotency-Key never makes a second waybill, also after
// a restart: orders are journalled before they are answered) and answers 201 with an S10 item
// code; then the simulator pushes the order's status events to the hub (POST {hub}/v1/postal/events
// with its own client certificate) on a schedule, retrying while the hub is down. Fault knobs
// (errors, latency, downtime, duplicate and reordered events) are set in the config and at run time
// with POST /admin/faults. For demos and end-to-end tests it also stands in for the agencies'
// callback endpoints: POST /agency-callbacks/{agency} records, GET /agency-callbacks lists.
// Reference: docs/postal-sim.md.
//
// Threading: run the io_context on one thread. Lifetime: the simulator's coroutines refer to it, and
// it owns sockets and timers of the io_context: destroy it after stopped() and before the
// io_context.
#pragma once

#include "hub/postal_sim/sim_config.hpp"

#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <memory>

namespace dh::postal_sim {

class PostalSim {
 public:
  // Reads the journal and the certificates. Throws std::runtime_error (start-up only).
  PostalSim(boost::asio::io_context& io, SimConfig config);
  ~PostalSim();
  PostalSim(const PostalSim&) = delete;
  PostalSim& operator=(const PostalSim&) = delete;

  // Binds the listener (throws on failure) and resumes the events of unfinished orders.
  void start();
  // Stops accepting and pushing (from any thread); requests in progress end within their timeouts.
  void stop();
  // After stop(): the pusher has ended and no connection is open (clients may keep theirs alive
  // up to the listener's idle timeout).
  [[nodiscard]] bool stopped() const noexcept;
  [[nodiscard]] std::uint16_t port() const noexcept;
  [[nodiscard]] std::size_t orders() const noexcept;
  // Events the hub has acknowledged, since start.
  [[nodiscard]] std::size_t events_pushed() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dh::postal_sim
