#include "hub/store/store.hpp"

#include "hub/store/pg_store.hpp"
#include "hub/store/sqlite_store.hpp"

namespace dh::store {

std::string_view to_string(OutboxKind k) noexcept {
  switch (k) {
    case OutboxKind::postal_order:
      return "postal_order";
    case OutboxKind::agency_callback:
      return "agency_callback";
  }
  return "postal_order";
}

std::string_view to_string(EventOutcome o) noexcept {
  switch (o) {
    case EventOutcome::applied:
      return "applied";
    case EventOutcome::recorded:
      return "recorded";
    case EventOutcome::duplicate:
      return "duplicate";
    case EventOutcome::unknown_order:
      return "unknown_order";
  }
  return "recorded";
}

std::unique_ptr<Store> open_sqlite(const SqliteOptions& options) {
  return std::make_unique<SqliteStore>(options);
}

std::unique_ptr<Store> open_postgres(const PostgresOptions& options) {
  return std::make_unique<PgStore>(options);
}

}  // namespace dh::store
