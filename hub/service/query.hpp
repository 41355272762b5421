// One parameter of a request's query string, percent-decoded (Boost.URL).
#pragma once

#include <boost/url/params_encoded_view.hpp>
#include <boost/url/parse_query.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace dh::service {

inline std::optional<std::string> query_param(std::string_view query, std::string_view name) {
  auto encoded = boost::urls::parse_query(boost::urls::string_view(query.data(), query.size()));
  if (!encoded) return std::nullopt;
  for (const auto& p : *encoded)
    if (p.key.decode() == name) return p.value.decode();
  return std::nullopt;
}

}  // namespace dh::service
