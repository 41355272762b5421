// `dossier-hub serve`: wires the service together and runs it until SIGTERM/SIGINT.
#include "hub/cli/command.hpp"
#include "hub/connectors/amqp_postal.hpp"
#include "hub/connectors/https_client.hpp"
#include "hub/dispatcher/dispatcher.hpp"
#include "hub/edge/http_server.hpp"
#include "hub/edge/tls.hpp"
#include "hub/observability/log.hpp"
#include "hub/queue/amqp_url.hpp"
#include "hub/queue/queue_driver.hpp"
#include "hub/service/admin_service.hpp"
#include "hub/service/destination.hpp"
#include "hub/service/hub_service.hpp"
#include "hub/service/status_callbacks.hpp"

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>

#include <csignal>
#include <iostream>
#include <thread>

namespace dh::cli {

namespace {

// Where the work queue is, without its password (the log line at start).
std::string queue_display(const config::Queue& q) {
  auto broker = queue::parse_amqp_url(q.url);
  return broker ? queue::to_display(*broker) : std::string("rabbitmq");
}

std::string reload_summary(const service::MappingSet& set) {
  boost::json::array agencies;
  for (const auto& m : set.mappings) agencies.emplace_back(m->agency_id());
  return boost::json::serialize(boost::json::object{{"generation", static_cast<std::int64_t>(set.generation)},
                                                    {"agencies", agencies},
                                                    {"refused", service::to_json(set.refused)}});
}

// Each refused mapping file, logged with its reason (load errors name files and lines, never a
// message's content).
void log_refused(const service::MappingSet& set, obs::Registry& metrics) {
  metrics.gauge("dossier_hub_mappings_refused", "Mapping files the latest load refused (each logged with its reason)")
      .set(static_cast<double>(set.refused.size()));
  for (const auto& r : set.refused)
    obs::Log::error("mapping_refused",
                    {{"file", r.file}, {"kept_earlier_version", r.kept ? "true" : "false"}, {"reason", r.reason}});
}

}  // namespace

int run_serve(std::span<char*> args) {
  po::options_description options("Options");
  options.add_options()(
      "config,c", po::value<std::string>()->required()->value_name("FILE"),
      "hub configuration (YAML, docs/operations.md): listeners, certificates, store, mappings, routes, postal "
      "endpoints, dispatcher")("check-config", po::bool_switch(),
                               "load and validate the configuration, every mapping and the routes, then exit")(
      "workers", po::value<unsigned>()->value_name("N"), "worker threads (overrides the config file)");
  po::positional_options_description positional;
  po::variables_map vm;
  int code = kExitOk;
  if (!parse_args(
          args, "serve --config FILE [--check-config] [--workers N]",
          "Runs the hub service: the partner listener (HTTPS, client certificates required), the\n"
          "admin listener (plain HTTP, loopback), the store, the router and the dispatcher.\n"
          "Logs are JSON lines on standard error. Stops cleanly on SIGTERM or SIGINT (requests in\n"
          "progress finish); reloads the mappings on SIGHUP (a file that does not compile keeps its earlier version).",
          options, positional, vm, code))
    return code;

  std::optional<config::HubConfig> cfg;
  std::shared_ptr<const service::MappingSet> mappings;
  std::optional<router::RouteTable> routes;
  try {
    cfg.emplace(config::HubConfig::load(vm["config"].as<std::string>()));
    if (vm.count("workers")) cfg->workers = std::max(1u, vm["workers"].as<unsigned>());
    mappings = service::load_mappings(cfg->mappings, 1);
    routes.emplace(router::RouteTable::load(cfg->routes));
  } catch (const std::exception& e) {
    std::cerr << "dossier-hub serve: " << e.what() << '\n';
    return kExitUsage;
  }
  for (const auto& [name, ep] : cfg->endpoints)
    if (name.empty() || ep.url.empty()) return kExitUsage;
  if (vm["check-config"].as<bool>()) {
    if (!mappings->refused.empty()) {
      for (const auto& r : mappings->refused) std::cerr << "dossier-hub serve: refused " << r.reason << '\n';
      std::cerr << "dossier-hub serve: " << mappings->refused.size()
                << " mapping(s) refused; serve would start without " << (mappings->refused.size() == 1 ? "it" : "them")
                << '\n';
      return kExitUsage;
    }
    std::cout << "configuration ok: " << mappings->mappings.size() << " agencies, " << routes->size() << " routes, "
              << cfg->endpoints.size() << " postal endpoint(s)\n";
    return kExitOk;
  }
  obs::Log::set_level(cfg->log_level);

  std::unique_ptr<store::Store> store;
  std::optional<boost::asio::ssl::context> server_tls, client_tls;
  try {
    if (cfg->store_kind == config::StoreKind::postgres) {
      store::PostgresOptions po;
      po.url = cfg->store_postgres.url;
      po.max_batch = cfg->store_batch;
      po.connect_timeout = cfg->store_postgres.connect_timeout;
      po.statement_timeout = cfg->store_postgres.statement_timeout;
      po.read_connections = cfg->store_postgres.read_connections;
      store = store::open_postgres(po);
    } else {
      std::filesystem::create_directories(cfg->store_file.parent_path());
      store::SqliteOptions so;
      so.file = cfg->store_file;
      so.max_batch = cfg->store_batch;
      store = store::open_sqlite(so);
    }
    server_tls.emplace(edge::make_server_context(cfg->tls));
    client_tls.emplace(edge::make_client_context(cfg->client_tls));
  } catch (const std::exception& e) {
    std::cerr << "dossier-hub serve: " << e.what() << '\n';
    return kExitUsage;
  }

  obs::Registry metrics;
  boost::asio::io_context io(static_cast<int>(cfg->workers));
  service::Context ctx(*cfg, *store, *routes, metrics, mappings, [] { return std::chrono::system_clock::now(); });
  log_refused(*mappings, metrics);
  std::atomic<std::uint64_t> generation{1};
  std::mutex reload_mutex;
  auto reload = [&]() -> Outcome<std::string> {
    std::lock_guard lock(reload_mutex);
    try {
      auto next = service::load_mappings(cfg->mappings, generation + 1, ctx.mappings.load().get());
      ++generation;
      ctx.mappings.store(next);
      log_refused(*next, metrics);
      obs::Log::info("mappings_reloaded", {{"generation", std::to_string(next->generation)},
                                           {"agencies", std::to_string(next->mappings.size())},
                                           {"refused", std::to_string(next->refused.size())}});
      return reload_summary(*next);
    } catch (const std::exception& e) {
      obs::Log::error("mappings_not_reloaded", {{"reason", e.what()}});
      return make_error(e.what());
    }
  };
  service::HubService hub(ctx);
  service::AdminService admin(ctx, reload);
  edge::HttpServer partners(io, cfg->agencies, &*server_tls, cfg->limits, hub, "partners");
  edge::HttpServer operators(io, cfg->admin, nullptr, cfg->limits, admin, "admin");

  connectors::ClientOptions client_options;
  connectors::HttpsClient client(*client_tls, client_options);
  for (const auto& [name, ep] : cfg->endpoints)
    if (ep.kind == config::EndpointKind::https) client.set_endpoint(ep);
  dispatcher::Dispatcher dispatch(io, *store, client, cfg->dispatcher, metrics);
  dispatch.resolve_destinations(
      [&cfg = *cfg, &ctx](const store::OutboxEntry& entry) -> std::optional<dispatcher::Destination> {
        auto to = service::current_destination(entry, cfg, *ctx.mappings.load());
        if (!to) return std::nullopt;
        return dispatcher::Destination{std::move(to->url), std::move(to->headers)};
      });
  dispatch.report_ordered(service::status_callbacks(ctx));
  const std::string instance = cfg->agencies.address + ":" + std::to_string(cfg->agencies.port);
  // Postal endpoints on AMQP: their orders go through a connector of their own (every other
  // target's over HTTPS), in embedded and shared mode alike.
  std::vector<std::unique_ptr<connectors::AmqpPostal>> amqp_postal;
  for (const auto& [name, ep] : cfg->endpoints) {
    if (ep.kind != config::EndpointKind::amqp) continue;
    auto postal_options = connectors::amqp_postal_options(name, ep, instance);
    if (!postal_options) {
      std::cerr << "dossier-hub serve: postal.endpoints." << name << ".url: " << postal_options.error().message << '\n';
      return kExitUsage;
    }
    amqp_postal.push_back(std::make_unique<connectors::AmqpPostal>(std::move(*postal_options), *store, metrics));
    dispatch.use_connector(name, *amqp_postal.back());
  }
  // Shared mode with RabbitMQ: the work queue carries the outbox to every instance's dispatcher.
  std::unique_ptr<queue::QueueDriver> work_queue;
  if (cfg->queue) {
    auto settings = queue::queue_settings(*cfg->queue, instance);
    if (!settings) {
      std::cerr << "dossier-hub serve: " << settings.error().message << '\n';
      return kExitUsage;
    }
    queue::DriverOptions driver_options;
    driver_options.poll = cfg->dispatcher.poll;
    driver_options.republish_after = cfg->queue->republish_after;
    work_queue = std::make_unique<queue::QueueDriver>(*store, dispatch, std::move(*settings), driver_options, metrics);
  }

  try {
    partners.start();
    operators.start();
  } catch (const std::exception& e) {
    std::cerr << "dossier-hub serve: cannot listen: " << e.what() << '\n';
    return kExitUsage;
  }
  for (auto& connector : amqp_postal) connector->start(dispatch);
  if (work_queue) {
    dispatch.start_queue_mode(cfg->queue->republish_after);
    work_queue->start();
  } else {
    dispatch.start();
  }
  obs::Log::info("listening", {{"partners", cfg->agencies.address + ":" + std::to_string(partners.port())},
                               {"admin", cfg->admin.address + ":" + std::to_string(operators.port())},
                               {"agencies", std::to_string(mappings->mappings.size())},
                               // The URL is not logged: it may hold a password.
                               {"store", cfg->store_kind == config::StoreKind::postgres ? std::string("postgres")
                                                                                        : cfg->store_file.string()},
                               {"queue", cfg->queue ? queue_display(*cfg->queue) : std::string("none")},
                               {"workers", std::to_string(cfg->workers)}});

  // SIGTERM/SIGINT: stop accepting, let requests in progress and in-flight dispatches finish (at
  // most 10 s), then stop. SIGHUP: reload the mappings.
  boost::asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  boost::asio::steady_timer drain(io);
  std::chrono::steady_clock::time_point deadline;
  std::function<void(const boost::system::error_code&)> wait_sessions = [&](const boost::system::error_code&) {
    if ((partners.connections() == 0 && operators.connections() == 0) || std::chrono::steady_clock::now() >= deadline) {
      io.stop();
      return;
    }
    drain.expires_after(std::chrono::milliseconds(50));
    drain.async_wait(wait_sessions);
  };
  std::function<void(const boost::system::error_code&, int)> on_signal;
  on_signal = [&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      (void)reload();
      signals.async_wait(on_signal);
      return;
    }
    obs::Log::info("stopping", {{"signal", std::to_string(sig)}});
    partners.stop();
    operators.stop();
    deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    dispatch.stop([&] { wait_sessions({}); });
  };
  signals.async_wait(on_signal);

  std::vector<std::thread> threads;
  for (unsigned i = 1; i < cfg->workers; ++i) threads.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : threads) t.join();
  // Deliveries the dispatcher did not settle go back to the queue when the consumer closes.
  if (work_queue) work_queue->stop();
  // Replies not recorded yet go back to their queue when the connection closes.
  for (auto& connector : amqp_postal) connector->stop();
  obs::Log::info("stopped");
  return kExitOk;
}

}  // namespace dh::cli
