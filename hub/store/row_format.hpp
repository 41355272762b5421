// How the store writes values into rows, whichever the database: times as sortable UTC text, and
// the hash that chains the audit log. Both stores write the same text, so a chain verifies alike.
#pragma once

#include "hub/common/result.hpp"
#include "hub/common/time.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace dh::store {

// Times are stored as RFC 3339 text in UTC with a fixed nine-digit fraction,
// "2025-01-15T01:30:00.000000000Z": text order is time order, the instant is kept to the
// nanosecond. The offset a time was written with is not kept (it is presentation).
std::string to_db_time(const Timestamp& t);
Outcome<Timestamp> from_db_time(std::string_view s);

// The wall clock as a UTC Timestamp, for the few writes whose caller gives no time.
Timestamp wall_clock();

// The prev_hash of the first audit entry.
inline constexpr std::string_view kGenesisHash = "0000000000000000000000000000000000000000000000000000000000000000";

// The hash of one audit entry: SHA-256 hex over its fields joined by "\n", the time as stored.
std::string audit_hash(std::string_view prev_hash, std::int64_t seq, std::string_view at, std::string_view actor,
                       std::string_view action, std::string_view subject, std::string_view detail);

}  // namespace dh::store
