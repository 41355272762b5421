// `dossier-hub postal-sim`: the postal core simulator, for development and tests (docs/postal-sim.md).
#include "hub/cli/command.hpp"
#include "hub/observability/log.hpp"
#include "hub/postal_sim/postal_sim.hpp"

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <csignal>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <optional>

namespace dh::cli {

int run_postal_sim(std::span<char*> args) {
  po::options_description options("Options");
  options.add_options()("config,c", po::value<std::string>()->required()->value_name("FILE"),
                        "simulator configuration (YAML, docs/postal-sim.md): listener, certificates, the hub's URL, "
                        "order journal, event schedule, fault knobs")(
      "port,p", po::value<std::uint16_t>()->value_name("N"),
      "listen on this port instead of the configured one (0: any free port, logged at start)")(
      "journal", po::value<std::string>()->value_name("FILE"),
      "order journal (JSON lines) instead of the configured one")(
      "hub", po::value<std::string>()->value_name("URL"),
      "the hub's base URL for status events instead of the configured one (https://host:port)")(
      "check-config", po::bool_switch(), "load and validate the configuration and certificates, then exit");
  po::positional_options_description positional;
  po::variables_map vm;
  int code = kExitOk;
  if (!parse_args(args, "postal-sim --config FILE [--port N] [--journal FILE] [--hub URL] [--check-config]",
                  "Runs the postal core simulator: an HTTPS listener (client certificates required; only\n"
                  "the hub's may place orders) implementing POST /v1/orders of the postal intake contract\n"
                  "with S10 waybill numbers and Idempotency-Key, GET /v1/orders/{order_id}, GET /healthz\n"
                  "and POST /admin/faults; it pushes each order's status events to the hub's\n"
                  "/v1/postal/events on a schedule, retrying while the hub is down. Orders are kept in an\n"
                  "append-only journal, so a restart keeps every waybill. Logs are JSON lines on standard\n"
                  "error. Stops on SIGTERM or SIGINT. For development and tests only.",
                  options, positional, vm, code))
    return code;

  std::optional<postal_sim::SimConfig> cfg;
  try {
    cfg.emplace(postal_sim::SimConfig::load(vm["config"].as<std::string>()));
  } catch (const std::exception& e) {
    std::cerr << "dossier-hub postal-sim: " << e.what() << '\n';
    return kExitUsage;
  }
  if (vm.count("port")) cfg->listen.port = vm["port"].as<std::uint16_t>();
  if (vm.count("journal")) cfg->journal = vm["journal"].as<std::string>();
  if (vm.count("hub")) {
    cfg->hub_url = vm["hub"].as<std::string>();
    if (cfg->hub_url.rfind("https://", 0) != 0) {
      std::cerr << "dossier-hub postal-sim: --hub must be an https:// URL\n";
      return kExitUsage;
    }
    while (cfg->hub_url.back() == '/') cfg->hub_url.pop_back();
  }
  obs::Log::set_level(cfg->log_level);

  // The io_context outlives the simulator, which owns sockets and timers of it.
  boost::asio::io_context io(1);
  std::optional<postal_sim::PostalSim> sim;
  try {
    sim.emplace(io, std::move(*cfg));
    if (vm["check-config"].as<bool>()) {
      std::cout << "configuration ok: " << sim->orders() << " orders in the journal\n";
      return kExitOk;
    }
    sim->start();
  } catch (const std::exception& e) {
    std::cerr << "dossier-hub postal-sim: " << e.what() << '\n';
    return kExitUsage;
  }

  // SIGTERM/SIGINT: stop accepting and pushing; wait up to 3 s for requests in progress and open
  // connections (a client may keep one alive), then stop.
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  boost::asio::steady_timer drain(io);
  std::chrono::steady_clock::time_point deadline;
  std::function<void(const boost::system::error_code&)> wait_drained = [&](const boost::system::error_code&) {
    if (sim->stopped() || std::chrono::steady_clock::now() >= deadline) {
      io.stop();
      return;
    }
    drain.expires_after(std::chrono::milliseconds(50));
    drain.async_wait(wait_drained);
  };
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    obs::Log::info("stopping", {{"signal", std::to_string(sig)}});
    sim->stop();
    deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    wait_drained({});
  });
  io.run();
  if (!sim->stopped()) {
    // Connections still open have coroutines that refer to the simulator: leave them to the
    // operating system (every order and acknowledgement is already in the journal, fsync'd).
    obs::Log::info("stopped", {{"open_connections", "abandoned"}});
    obs::Log::flush();
    std::_Exit(kExitOk);
  }
  signals.cancel();
  sim.reset();
  obs::Log::info("stopped");
  return kExitOk;
}

}  // namespace dh::cli
