// docs/openapi.yaml and the server agree: every route the listeners serve is documented, and
// nothing is documented that they do not serve.
#include "hub/service/routes.hpp"

#include <catch2/catch.hpp>
#include <yaml-cpp/yaml.h>

#include <set>
#include <string>

TEST_CASE("docs/openapi.yaml lists exactly the routes the listeners serve", "[openapi]") {
  const YAML::Node doc = YAML::LoadFile(DH_SOURCE_DIR "/docs/openapi.yaml");
  REQUIRE(doc["openapi"].as<std::string>().rfind("3.", 0) == 0);
  std::set<std::string> documented;
  for (const auto& path : doc["paths"]) {
    for (const auto& op : path.second) {
      const std::string method = op.first.as<std::string>();
      if (method == "get" || method == "post" || method == "put" || method == "delete" || method == "patch")
        documented.insert(method + " " + path.first.as<std::string>());
    }
  }
  std::set<std::string> served;
  for (const auto& r : dh::service::kPartnerRoutes) served.insert(std::string(r.method) + " " + std::string(r.path));
  for (const auto& r : dh::service::kAdminRoutes) served.insert(std::string(r.method) + " " + std::string(r.path));
  for (const auto& s : served) {
    INFO("served but not documented: " << s);
    CHECK(documented.count(s) == 1);
  }
  for (const auto& d : documented) {
    INFO("documented but not served: " << d);
    CHECK(served.count(d) == 1);
  }
}

TEST_CASE("every documented operation has responses and a summary", "[openapi]") {
  const YAML::Node doc = YAML::LoadFile(DH_SOURCE_DIR "/docs/openapi.yaml");
  for (const auto& path : doc["paths"]) {
    for (const auto& op : path.second) {
      INFO(op.first.as<std::string>() << " " << path.first.as<std::string>());
      CHECK(op.second["summary"]);
      CHECK(op.second["responses"]);
      CHECK(op.second["responses"].size() > 0);
    }
  }
}
