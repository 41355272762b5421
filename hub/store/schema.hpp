// The store's schema as a versioned list of migrations per database, applied in order on open,
// each once and each in its own transaction; `schema_migrations` records which were applied and
// when; each one applied is logged (store_migrated). Never edit a migration that has shipped: add
// the next one.
#pragma once

#include "hub/store/db.hpp"

#include <span>
#include <string_view>

namespace dh::store {

struct Migration {
  int version;
  std::string_view description;
  const char* sql;  // DDL, and statements that move rows already there; no values
};

// SQLite's (schema.cpp) and PostgreSQL's (pg_schema.cpp): the same tables in each dialect.
std::span<const Migration> migrations();
std::span<const Migration> pg_migrations();

// Applies the migrations of `list` that the database lacks. `begin` is the script that opens a
// migration's transaction, with whatever lock keeps a second hub starting at the same time out of
// it. Throws std::runtime_error when one fails or when the database was migrated by a newer hub
// (a version this code does not know): start-up errors.
void migrate(WriteDb& c, std::span<const Migration> list, const char* begin);

}  // namespace dh::store
