// `dossier-hub admin`: the operators' commands, talking to a running hub's admin listener.
#include "hub/cli/command.hpp"
#include "hub/dossier/dossier.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include <iostream>

namespace dh::cli {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;

struct Answer {
  int status = 0;
  std::string body;
};

// One plain HTTP request to the admin listener (loopback): synchronous, as a CLI may be.
std::optional<Answer> call(const std::string& base, http::verb method, const std::string& target,
                           const std::string& body, std::string& error) {
  auto url = boost::urls::parse_uri(base);
  if (!url || url->scheme() != "http") {
    error = "--url must be http://host:port (the admin listener)";
    return std::nullopt;
  }
  try {
    boost::asio::io_context io;
    boost::asio::ip::tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(30));
    stream.connect(resolver.resolve(std::string(url->host()), url->has_port() ? std::string(url->port()) : "80"));
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, std::string(url->host()));
    req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    beast::error_code ec;
    stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
    return Answer{static_cast<int>(res.result_int()), res.body()};
  } catch (const std::exception& e) {
    error = std::string("cannot reach the admin listener at ") + base + ": " + e.what();
    return std::nullopt;
  }
}

void print(const std::string& body) {
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  if (ec)
    std::cout << body << '\n';
  else
    std::cout << to_pretty_json(v);
}

int fail(const std::string& why) {
  std::cerr << "dossier-hub admin: " << why << '\n';
  return kExitRefused;
}

}  // namespace

int run_admin(std::span<char*> args) {
  po::options_description options("Options");
  options.add_options()("url", po::value<std::string>()->default_value("http://127.0.0.1:8444")->value_name("URL"),
                        "the hub's admin listener")("actor", po::value<std::string>()->value_name("NAME"),
                                                    "who acts, for the audit log (required to redrive or discard)")(
      "all", po::bool_switch(), "redrive or discard every dead letter, page by page, with progress")(
      "limit", po::value<std::size_t>()->default_value(100), "how many to list");
  po::options_description hidden;
  hidden.add_options()("words", po::value<std::vector<std::string>>()->composing(), "what to do");
  po::positional_options_description positional;
  positional.add("words", -1);
  po::variables_map vm;
  int code = kExitOk;
  if (!parse_args(
          args,
          "admin [--url URL] WHAT...\n"
          "  dead-letters [list]                  the dead letters, newest first\n"
          "  dead-letters show ID                 one, with its payload and last error\n"
          "  dead-letters redrive (ID... | --all) --actor NAME\n"
          "  dead-letters discard (ID... | --all) --actor NAME\n"
          "  rejections                           refused messages and their problems\n"
          "  trace HUB_ID                         a dossier, its history and audit entries\n"
          "  mappings [reload]                    what is loaded; reload (a refused file keeps its earlier version)\n"
          "  audit                                check the audit chain",
          "Talks to a running hub's admin listener (docs/operations.md). Redrive and discard are\n"
          "audited with --actor. Exit 0 on success, 1 when the hub refused or failed, 2 on usage.",
          options, positional, vm, code, &hidden))
    return code;
  const auto words = vm.count("words") ? vm["words"].as<std::vector<std::string>>() : std::vector<std::string>{};
  const std::string base = vm["url"].as<std::string>();
  auto usage = [] {
    std::cerr << "dossier-hub admin: say what to do; try 'dossier-hub admin --help'\n";
    return kExitUsage;
  };
  if (words.empty()) return usage();
  std::string error;
  auto get = [&](const std::string& target) -> int {
    auto a = call(base, http::verb::get, target, "", error);
    if (!a) return fail(error);
    print(a->body);
    return a->status < 300 ? kExitOk : kExitRefused;
  };

  if (words[0] == "dead-letters") {
    const std::string what = words.size() > 1 ? words[1] : "list";
    if (what == "list") return get("/admin/dead-letters?limit=" + std::to_string(vm["limit"].as<std::size_t>()));
    if (what == "show" && words.size() == 3) return get("/admin/dead-letters/" + words[2]);
    if (what == "redrive" || what == "discard") {
      if (!vm.count("actor")) {
        std::cerr << "dossier-hub admin: --actor NAME is required: the audit log records who acted\n";
        return kExitUsage;
      }
      const std::string actor = vm["actor"].as<std::string>();
      auto act = [&](const json::array& ids, std::size_t& done) -> bool {
        auto a = call(base, http::verb::post, "/admin/dead-letters/" + what,
                      json::serialize(json::object{{"ids", ids}, {"actor", actor}}), error);
        if (!a || a->status != 200) {
          if (a) error = "the hub answered " + std::to_string(a->status) + ": " + a->body;
          return false;
        }
        done +=
            static_cast<std::size_t>(json::parse(a->body).at(what == "redrive" ? "redriven" : "discarded").as_int64());
        return true;
      };
      std::size_t done = 0;
      if (vm["all"].as<bool>()) {
        // Page by page: each page acted on leaves the list, so the next page starts at 0 again.
        std::size_t total = 0;
        for (;;) {
          auto page = call(base, http::verb::get, "/admin/dead-letters?limit=1000", "", error);
          if (!page || page->status != 200) return fail(page ? page->body : error);
          const json::value v = json::parse(page->body);
          if (total == 0) total = static_cast<std::size_t>(v.at("total").as_int64());
          json::array ids;
          for (const auto& d : v.at("dead_letters").as_array()) ids.push_back(d.at("id"));
          if (ids.empty()) break;
          const std::size_t before = done;
          if (!act(ids, done)) return fail(error);
          std::cerr << what << ": " << done << " of " << total << '\n';
          if (done == before) break;  // nothing moved: do not loop forever
        }
      } else {
        if (words.size() < 3) return usage();
        json::array ids;
        for (std::size_t i = 2; i < words.size(); ++i) ids.emplace_back(words[i]);
        if (!act(ids, done)) return fail(error);
      }
      std::cout << what << ": " << done << " dead letter(s)\n";
      return kExitOk;
    }
    return usage();
  }
  if (words[0] == "rejections") return get("/admin/rejections?limit=" + std::to_string(vm["limit"].as<std::size_t>()));
  if (words[0] == "trace" && words.size() == 2) return get("/admin/dossiers/" + words[1] + "/trace");
  if (words[0] == "mappings" && words.size() == 1) return get("/admin/mappings");
  if (words[0] == "mappings" && words.size() == 2 && words[1] == "reload") {
    auto a = call(base, http::verb::post, "/admin/mappings/reload", "", error);
    if (!a) return fail(error);
    print(a->body);
    if (a->status != 200) return kExitRefused;
    // Reloaded, but some files were refused (each agency of them keeps its earlier version, if any).
    boost::system::error_code ec;
    const json::value v = json::parse(a->body, ec);
    const auto* refused = ec || !v.is_object() ? nullptr : v.as_object().if_contains("refused");
    return refused && refused->is_array() && !refused->as_array().empty() ? kExitRefused : kExitOk;
  }
  if (words[0] == "audit") return get("/admin/audit/verify");
  return usage();
}

}  // namespace dh::cli
