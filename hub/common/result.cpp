#include "hub/common/result.hpp"

#include <stdexcept>

namespace dh {

std::string FieldErrors::to_string() const {
  std::string out;
  for (const auto& e : errors) {
    if (!out.empty()) out += "; ";
    out += e.path.empty() ? "(message)" : e.path;
    out += ": ";
    out += e.reason;
  }
  return out;
}

void throw_exception_from_error(const FieldErrors& e, const boost::source_location& /*loc*/) {
  throw std::invalid_argument(e.to_string());
}

void throw_exception_from_error(const Error& e, const boost::source_location& /*loc*/) {
  throw std::invalid_argument(e.message);
}

}  // namespace dh
