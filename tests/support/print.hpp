// How Catch2 prints our types when an assertion fails.
#pragma once

#include "hub/common/result.hpp"
#include "hub/dossier/dossier.hpp"

#include <boost/json.hpp>

#include <ostream>

namespace dh {

inline std::ostream& operator<<(std::ostream& os, const FieldErrors& e) {
  return os << e.to_string();
}
inline std::ostream& operator<<(std::ostream& os, const Error& e) {
  return os << e.message;
}
inline std::ostream& operator<<(std::ostream& os, const Dossier& d) {
  return os << boost::json::serialize(to_json(d));
}

}  // namespace dh
