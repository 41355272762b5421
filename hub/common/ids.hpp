// Identifiers the hub makes: unique and time-ordered (ULID layout: 48 bits of milliseconds since
// the epoch, 80 random bits, Crockford base32, 26 characters), so that sorting by id is sorting
// by creation time and ids from several instances never collide.
#pragma once

#include <chrono>
#include <string>

namespace dh {

std::string make_id(std::chrono::system_clock::time_point now);

// Hex SHA-256 of bytes (64 lowercase characters).
std::string sha256_hex(std::string_view bytes);

}  // namespace dh
