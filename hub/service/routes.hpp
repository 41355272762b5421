// The endpoints each listener serves, as data: docs/openapi.yaml must list exactly these
// (tests/hub/service/openapi_test.cpp), and the end-to-end tests call each one.
#pragma once

#include <array>
#include <string_view>

namespace dh::service {

struct RouteSpec {
  std::string_view method;
  std::string_view path;  // OpenAPI template: /v1/dossiers/{hub_id}
};

inline constexpr std::array<RouteSpec, 7> kPartnerRoutes{{
    {"post", "/v1/messages"},
    {"get", "/v1/dossiers/{hub_id}"},
    {"get", "/v1/dossiers"},
    {"post", "/v1/postal/events"},
    {"get", "/healthz"},
    {"get", "/readyz"},
    {"get", "/metrics"},
}};

inline constexpr std::array<RouteSpec, 9> kAdminRoutes{{
    {"get", "/admin/dead-letters"},
    {"get", "/admin/dead-letters/{id}"},
    {"post", "/admin/dead-letters/redrive"},
    {"post", "/admin/dead-letters/discard"},
    {"get", "/admin/rejections"},
    {"get", "/admin/dossiers/{hub_id}/trace"},
    {"get", "/admin/mappings"},
    {"post", "/admin/mappings/reload"},
    {"get", "/admin/audit/verify"},
}};

}  // namespace dh::service
