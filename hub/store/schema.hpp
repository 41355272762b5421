// The store's schema as a versioned list of migrations, applied in order on open, each once and
// each in its own transaction; `schema_migrations` records which were applied and when.
#pragma once

#include "hub/store/sqlite.hpp"

#include <span>

namespace dh::store {

struct Migration {
  int version;
  std::string_view description;
  const char* sql;  // DDL only: no values
};

std::span<const Migration> migrations();

// Applies the migrations this file lacks. Throws std::runtime_error when one fails or when the
// file was migrated by a newer hub (a version this code does not know): start-up errors.
void migrate(sqlite::Connection& c);

}  // namespace dh::store
