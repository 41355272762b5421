// Why a message was refused: a stable problem type (RFC 9457 `type`), the HTTP status the edge
// answers with, and every failing field. Safe to show the partner: no personal data in reasons.
#pragma once

#include "hub/common/result.hpp"

#include <boost/json/fwd.hpp>

#include <string>
#include <string_view>

namespace dh::mapping {

enum class ProblemType {
  malformed_message,     // 400: not well-formed, hostile (DTD, depth, bad UTF-8, duplicate keys)
  schema_invalid,        // 422: fails the agency's XSD or JSON Schema
  soap_fault,            // 422: a SOAP Fault sent as a request
  unknown_message_type,  // 422: no message type of the mapping matches
  invalid_message,       // 422: fields missing or wrong after mapping
};

std::string_view type_uri(ProblemType t) noexcept;
std::string_view title(ProblemType t) noexcept;
int http_status(ProblemType t) noexcept;

struct Problem {
  ProblemType type = ProblemType::invalid_message;
  std::string message_type;  // the mapping's message type, when one matched
  FieldErrors errors;

  static Problem single(ProblemType t, std::string path, std::string reason) {
    Problem p;
    p.type = t;
    p.errors.add(std::move(path), std::move(reason));
    return p;
  }
};

// RFC 9457 problem+json: type, title, status, message_type (when known), errors[{path, reason}].
boost::json::object to_json(const Problem& p);

}  // namespace dh::mapping
