// Result types for the message path: bad input is an expected outcome and travels as a value,
// never as an exception. Every error names the field (a path) and the reason, in safe words.
#pragma once

#include <boost/system/result.hpp>

#include <string>
#include <utility>
#include <vector>

namespace dh {

// One failing field. `path` is a JSON Pointer into the canonical dossier, or into the agency's
// message (XPath / JSON Pointer) when the failure is in the input. `reason` never quotes personal
// data: it says what was wrong, not what the value was.
struct FieldError {
  std::string path;
  std::string reason;

  friend bool operator==(const FieldError&, const FieldError&) = default;
};

// A non-empty list of field errors: everything that failed, not just the first.
struct FieldErrors {
  std::vector<FieldError> errors;

  FieldErrors() = default;
  FieldErrors(std::string path, std::string reason) { errors.push_back({std::move(path), std::move(reason)}); }
  void add(std::string path, std::string reason) { errors.push_back({std::move(path), std::move(reason)}); }
  void append(const FieldErrors& other) { errors.insert(errors.end(), other.errors.begin(), other.errors.end()); }
  [[nodiscard]] bool empty() const noexcept { return errors.empty(); }
  [[nodiscard]] std::string to_string() const;
};

// Called by boost::system::result<T, FieldErrors>::value() on error; only reachable by a
// programming error (callers check has_value() on the message path).
[[noreturn]] void throw_exception_from_error(const FieldErrors& e, const boost::source_location& loc);

template <class T>
using Result = boost::system::result<T, FieldErrors>;

// A failure described in one safe sentence (load-time errors, transform failures). Not
// constructible from text, so that a result of text can still tell its value from its error:
// build one with make_error().
struct Error {
  Error() = default;
  std::string message;
};
inline Error make_error(std::string message) {
  Error e;
  e.message = std::move(message);
  return e;
}
[[noreturn]] void throw_exception_from_error(const Error& e, const boost::source_location& loc);

template <class T>
using Outcome = boost::system::result<T, Error>;

}  // namespace dh
