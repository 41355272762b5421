// load_bench: the hub service's load benchmark (docs/performance.md, "Service: load over mTLS").
// A benchmark, never a test: it measures and prints, it asserts nothing.
//
//   load_bench bare --port P --cert C --key K --ca CA [--threads T]
//       a bare HTTPS server: the hub's own listener (edge::HttpServer) and TLS context
//       (edge::make_server_context), with a handler that answers 202 and a small JSON body without
//       any work. The physical limit of TLS + HTTP on this machine. Runs until SIGTERM/SIGINT.
//
//   load_bench load --url https://127.0.0.1:P/v1/messages --connections N --seconds S
//                   --cert C --key K --ca CA [--warmup S] [--threads T] [--run-id ID] [--json]
//                   [--body-dir DIR]... [FILE-or-DIR...]
//       N keep-alive mTLS connections, each a coroutine sending request after request on its own
//       connection; each request one of the sample bodies in turn (Content-Type by extension) with
//       a unique Idempotency-Key (run id + connection + counter), so that a hub stores every one.
//       After --warmup seconds (not recorded) it records for --seconds: status codes and the
//       latency of every request; prints one summary line, or a JSON object with --json.
#include "hub/config/hub_config.hpp"
#include "hub/edge/http_server.hpp"
#include "hub/edge/tls.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;
constexpr auto nothrow = asio::experimental::as_tuple(asio::use_awaitable);

int usage() {
  std::cerr << "usage:\n"
               "  load_bench bare --port P --cert C --key K --ca CA [--threads T]\n"
               "  load_bench load --url https://127.0.0.1:P/v1/messages --connections N --seconds S\n"
               "                  --cert C --key K --ca CA [--warmup S] [--threads T] [--run-id ID] [--json]\n"
               "                  [--body-dir DIR]... [FILE-or-DIR...]\n";
  return 2;
}

struct Options {
  std::string mode;
  std::uint16_t port = 0;
  std::string cert, key, ca;
  std::string url;
  std::size_t connections = 50;
  double seconds = 10;
  double warmup = 0;
  unsigned threads = 1;
  bool threads_given = false;
  std::string run_id;
  bool json = false;
  std::vector<std::string> bodies;  // files or folders
};

bool parse(int argc, char** argv, Options& o) {
  if (argc < 2) return false;
  o.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--port")
      o.port = static_cast<std::uint16_t>(std::stoul(value()));
    else if (a == "--cert")
      o.cert = value();
    else if (a == "--key")
      o.key = value();
    else if (a == "--ca")
      o.ca = value();
    else if (a == "--url")
      o.url = value();
    else if (a == "--connections")
      o.connections = std::stoul(value());
    else if (a == "--seconds")
      o.seconds = std::stod(value());
    else if (a == "--warmup")
      o.warmup = std::stod(value());
    else if (a == "--threads") {
      o.threads = static_cast<unsigned>(std::max(1UL, std::stoul(value())));
      o.threads_given = true;
    } else if (a == "--run-id")
      o.run_id = value();
    else if (a == "--json")
      o.json = true;
    else if (a == "--body-dir" || a == "--body")
      o.bodies.push_back(value());
    else if (!a.empty() && a[0] == '-')
      throw std::invalid_argument("unknown option " + a);
    else
      o.bodies.push_back(a);
  }
  return o.mode == "bare" || o.mode == "load";
}

// ---------------------------------------------------------------- bare

class BareHandler final : public dh::edge::RequestHandler {
 public:
  asio::awaitable<dh::edge::Response> handle(dh::edge::Request request, const dh::edge::Peer&) override {
    co_return answer(request.version());
  }

 private:
  static dh::edge::Response answer(unsigned version) {
    dh::edge::Response res{http::status::accepted, version};
    res.set(http::field::content_type, "application/json");
    res.body() = R"({"receipt":"bare","duplicate":false,"dossiers":[]})";
    res.prepare_payload();
    return res;
  }
};

int run_bare(const Options& o) {
  dh::config::Tls tls;
  tls.certificate = o.cert;
  tls.private_key = o.key;
  tls.client_ca = o.ca;
  auto ctx = dh::edge::make_server_context(tls);
  dh::config::Listener listener;
  listener.address = "127.0.0.1";
  listener.port = o.port;
  dh::config::Limits limits;
  limits.max_connections = 100000;
  // The hub serves with `workers: 2` threads by default; the bare server does the same.
  const unsigned threads = o.threads_given ? o.threads : 2;
  asio::io_context io(static_cast<int>(threads));
  BareHandler handler;
  dh::edge::HttpServer server(io, listener, &ctx, limits, handler, "bare");
  server.start();
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) {
    server.stop();
    io.stop();
  });
  std::cout << "bare listening on 127.0.0.1:" << server.port() << " (" << threads << " threads)" << std::endl;
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back([&] { io.run(); });
  io.run();
  for (auto& t : pool) t.join();
  return 0;
}

// ---------------------------------------------------------------- load

struct Body {
  std::string content_type;
  std::string bytes;
};

std::vector<Body> load_bodies(const std::vector<std::string>& paths) {
  std::vector<fs::path> files;
  for (const auto& p : paths) {
    if (fs::is_directory(p)) {
      for (const auto& e : fs::directory_iterator(p)) {
        const std::string name = e.path().filename().string();
        if (!e.is_regular_file() || name.ends_with(".expected.json")) continue;
        if (name.ends_with(".json") || name.ends_with(".xml")) files.push_back(e.path());
      }
    } else {
      files.emplace_back(p);
    }
  }
  std::sort(files.begin(), files.end());
  std::vector<Body> out;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + f.string());
    std::ostringstream s;
    s << in.rdbuf();
    Body b;
    b.content_type = f.extension() == ".xml" ? "application/xml" : "application/json";
    b.bytes = s.str();
    out.push_back(std::move(b));
  }
  return out;
}

struct Target {
  std::string host;
  std::uint16_t port = 443;
  std::string host_header;
  std::string path;
};

Target parse_url(const std::string& url) {
  const std::string scheme = "https://";
  if (url.rfind(scheme, 0) != 0) throw std::invalid_argument("--url must be https://HOST:PORT/PATH");
  const std::string rest = url.substr(scheme.size());
  const auto slash = rest.find('/');
  Target t;
  t.host_header = rest.substr(0, slash);
  t.path = slash == std::string::npos ? "/" : rest.substr(slash);
  const auto colon = t.host_header.rfind(':');
  t.host = t.host_header.substr(0, colon);
  if (colon != std::string::npos) t.port = static_cast<std::uint16_t>(std::stoul(t.host_header.substr(colon + 1)));
  return t;
}

// What one connection saw; merged at the end (no sharing while running).
struct Stats {
  std::uint64_t requests = 0;  // answered within the measurement window
  std::map<unsigned, std::uint64_t> codes;
  std::uint64_t network_errors = 0;  // within the window
  std::uint64_t connects = 0;
  std::vector<std::uint32_t> latency_us;  // of answered requests within the window
  // Whole run, warm-up included (what the hub stored): 202 answers and the dossiers they name.
  std::uint64_t accepted_total = 0;
  std::uint64_t dossiers_total = 0;
};

struct Shared {
  ssl::context* tls = nullptr;
  Target target;
  std::vector<Body>* bodies = nullptr;
  std::string run_id;
  steady::time_point measure_from, measure_to;
};

std::vector<http::request<http::string_body>> make_requests(const Shared& s) {
  std::vector<http::request<http::string_body>> reqs;
  for (const auto& b : *s.bodies) {
    http::request<http::string_body> req(http::verb::post, s.target.path, 11);
    req.set(http::field::host, s.target.host_header);
    req.set(http::field::user_agent, "load_bench");
    req.set(http::field::content_type, b.content_type);
    req.keep_alive(true);
    req.body() = b.bytes;
    req.prepare_payload();
    reqs.push_back(std::move(req));
  }
  return reqs;
}

std::uint64_t count_dossiers(const std::string& body) {
  std::uint64_t n = 0;
  for (auto pos = body.find("\"hub_id\""); pos != std::string::npos; pos = body.find("\"hub_id\"", pos + 1)) ++n;
  return n;
}

std::string make_key(const std::string& run_id, std::size_t conn, std::uint64_t counter) {
  return run_id + "-" + std::to_string(conn) + "-" + std::to_string(counter);
}

void prepare_tls(beast::ssl_stream<beast::tcp_stream>& stream, const std::string& host) {
  stream.set_verify_mode(ssl::verify_peer);
  X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(stream.native_handle()), host.c_str());
}

asio::awaitable<void> connection(const Shared& s, std::size_t index, Stats& st) {
  auto reqs = make_requests(s);
  const auto ex = co_await asio::this_coro::executor;
  const tcp::endpoint ep(asio::ip::make_address(s.target.host), s.target.port);
  std::uint64_t counter = 0;
  asio::steady_timer pause(ex);
  while (steady::now() < s.measure_to) {
    beast::ssl_stream<beast::tcp_stream> stream(ex, *s.tls);
    prepare_tls(stream, s.target.host);
    auto& lower = beast::get_lowest_layer(stream);
    lower.expires_after(std::chrono::seconds(30));
    auto [cec] = co_await lower.async_connect(ep, nothrow);
    if (!cec) {
      lower.socket().set_option(tcp::no_delay(true));
      std::tie(cec) = co_await stream.async_handshake(ssl::stream_base::client, nothrow);
    }
    if (cec) {
      if (steady::now() >= s.measure_from) ++st.network_errors;
      pause.expires_after(std::chrono::milliseconds(50));
      co_await pause.async_wait(nothrow);
      continue;
    }
    ++st.connects;
    beast::flat_buffer buffer;
    bool alive = true;
    while (alive && steady::now() < s.measure_to) {
      auto& req = reqs[counter % reqs.size()];
      req.set("Idempotency-Key", make_key(s.run_id, index, counter));
      ++counter;
      const auto t0 = steady::now();
      lower.expires_after(std::chrono::seconds(30));
      auto [wec, wn] = co_await http::async_write(stream, req, nothrow);
      http::response_parser<http::string_body> parser;
      parser.body_limit(1 << 20);
      boost::system::error_code rec = wec;
      if (!wec) std::tie(rec, std::ignore) = co_await http::async_read(stream, buffer, parser, nothrow);
      const auto t1 = steady::now();
      const bool in_window = t1 >= s.measure_from && t1 <= s.measure_to;
      if (rec) {
        if (in_window) ++st.network_errors;
        alive = false;
        break;
      }
      const auto& res = parser.get();
      const unsigned code = res.result_int();
      if (code == 202) {
        ++st.accepted_total;
        st.dossiers_total += count_dossiers(res.body());
      }
      if (in_window) {
        ++st.requests;
        ++st.codes[code];
        st.latency_us.push_back(
            static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0).count()));
      }
      alive = res.keep_alive();
    }
    if (alive) {
      lower.expires_after(std::chrono::seconds(2));
      co_await stream.async_shutdown(nothrow);
    }
  }
}

// The load generator's own CPU time (user + system, every thread): what the load costs the
// machine, beside the server's, in µs per request.
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

double percentile(std::vector<std::uint32_t>& v, double p) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return static_cast<double>(v[k]) / 1000.0;
}

int run_load(const Options& o) {
  auto bodies = load_bodies(o.bodies);
  if (bodies.empty()) throw std::invalid_argument("no sample bodies given (--body-dir DIR or files)");
  ssl::context tls(ssl::context::tls_client);
  tls.use_certificate_chain_file(o.cert);
  tls.use_private_key_file(o.key, ssl::context::pem);
  tls.load_verify_file(o.ca);
  Shared shared;
  shared.tls = &tls;
  shared.target = parse_url(o.url);
  shared.bodies = &bodies;
  shared.run_id =
      o.run_id.empty() ? "lb" + std::to_string(std::chrono::system_clock::now().time_since_epoch().count()) : o.run_id;
  const auto start = steady::now();
  shared.measure_from = start + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(o.warmup));
  shared.measure_to =
      shared.measure_from + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(o.seconds));

  asio::io_context io(static_cast<int>(o.threads));
  std::vector<Stats> stats(o.connections);
  for (std::size_t i = 0; i < o.connections; ++i) asio::co_spawn(io, connection(shared, i, stats[i]), asio::detached);
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < o.threads; ++t) pool.emplace_back([&] { io.run(); });
  io.run();
  for (auto& t : pool) t.join();

  Stats all;
  for (auto& s : stats) {
    all.requests += s.requests;
    all.network_errors += s.network_errors;
    all.connects += s.connects;
    all.accepted_total += s.accepted_total;
    all.dossiers_total += s.dossiers_total;
    for (const auto& [c, n] : s.codes) all.codes[c] += n;
    all.latency_us.insert(all.latency_us.end(), s.latency_us.begin(), s.latency_us.end());
  }
  const std::uint64_t accepted = all.codes.count(202) ? all.codes[202] : 0;
  const double rate = static_cast<double>(accepted) / o.seconds;
  const double p50 = percentile(all.latency_us, 0.50);
  const double p99 = percentile(all.latency_us, 0.99);
  std::string other;
  for (const auto& [c, n] : all.codes)
    if (c != 202) other += (other.empty() ? "" : ",") + std::to_string(c) + ":" + std::to_string(n);
  char buf[256];
  if (o.json) {
    std::string codes = "{";
    for (const auto& [c, n] : all.codes)
      codes += (codes.size() > 1 ? "," : "") + std::string("\"") + std::to_string(c) + "\":" + std::to_string(n);
    codes += "}";
    std::snprintf(buf, sizeof buf, "%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f", rate, p50, p99);
    std::cout << "{\"connections\":" << o.connections << ",\"seconds\":" << o.seconds << ",\"warmup\":" << o.warmup
              << ",\"requests\":" << all.requests << ",\"accepted\":" << accepted << ",\"codes\":" << codes
              << ",\"network_errors\":" << all.network_errors << ",\"connects\":" << all.connects
              << ",\"accepted_total\":" << all.accepted_total << ",\"dossiers_total\":" << all.dossiers_total
              << ",\"msgs_per_s\":" << buf << ",\"cpu_s\":" << cpu_seconds() << "}" << std::endl;
  } else {
    std::snprintf(buf, sizeof buf, "%.0f msgs/s, p50 %.2f ms, p99 %.2f ms", rate, p50, p99);
    std::cout << "requests " << all.requests << ", accepted (202) " << accepted << ", other codes "
              << (other.empty() ? "none" : other) << ", network errors " << all.network_errors << ", " << buf << " ("
              << o.connections << " connections, " << o.seconds << " s)" << std::endl;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  try {
    if (!parse(argc, argv, o)) return usage();
    if (o.cert.empty() || o.key.empty() || o.ca.empty()) return usage();
    if (o.mode == "bare") return run_bare(o);
    if (o.url.empty() || o.connections == 0 || o.seconds <= 0) return usage();
    return run_load(o);
  } catch (const std::invalid_argument& e) {
    std::cerr << "load_bench: " << e.what() << "\n";
    return usage();
  } catch (const std::exception& e) {
    std::cerr << "load_bench: " << e.what() << "\n";
    return 1;
  }
}
