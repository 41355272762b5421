// What the store's SQL logic needs of a database connection, so that one body of it
// (operations.hpp) serves the embedded store (SQLite) and the shared one (PostgreSQL). Statements
// are static text with ?1, ?2, ... placeholders; every value is bound, never written into SQL.
#pragma once

#include "hub/common/result.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace dh::store {

// A non-owning reference to a callable: the bind and row callbacks below live only for the call.
template <class Signature>
class FunctionRef;

template <class R, class... Args>
class FunctionRef<R(Args...)> {
 public:
  template <class F>
  requires(!std::is_same_v<std::remove_cvref_t<F>, FunctionRef> && std::is_invocable_r_v<R, F&, Args...>)
      FunctionRef(F&& f)
  noexcept  // NOLINT(google-explicit-constructor): passed as a lambda
      : object_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))), call_([](void* o, Args... args) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(o))(std::forward<Args>(args)...);
        }) {}

  R operator()(Args... args) const { return call_(object_, std::forward<Args>(args)...); }

 private:
  void* object_;
  R (*call_)(void*, Args...);
};

// One row of a result: columns by index, from 0.
class Row {
 public:
  [[nodiscard]] virtual std::string text(int col) const = 0;  // TEXT or BLOB, as bytes
  [[nodiscard]] virtual std::optional<std::string> opt_text(int col) const = 0;
  [[nodiscard]] virtual std::int64_t int64(int col) const = 0;

 protected:
  Row() = default;
  Row(const Row&) = default;
  Row& operator=(const Row&) = default;
  virtual ~Row() = default;
};

// The values of one statement, by placeholder number (?1 is 1). A value that cannot be bound is
// reported when the statement runs.
class Params {
 public:
  virtual Params& bind(int i, std::string_view text) = 0;
  virtual Params& bind(int i, std::int64_t v) = 0;
  virtual Params& bind_blob(int i, std::string_view bytes) = 0;
  virtual Params& bind_null(int i) = 0;
  Params& bind_opt(int i, const std::optional<std::string>& text) {  // NULL when absent
    return text ? bind(i, std::string_view(*text)) : bind_null(i);
  }

 protected:
  Params() = default;
  Params(const Params&) = default;
  Params& operator=(const Params&) = default;
  virtual ~Params() = default;
};

using Bind = FunctionRef<void(Params&)>;
using EachRow = FunctionRef<Outcome<void>(const Row&)>;

// A connection, as the operations use it.
class Db {
 public:
  // Runs `sql` with the values `bind` sets, calling `row` for each row it returns; an error that
  // `row` returns stops the query and is the answer.
  virtual Outcome<void> each(std::string_view sql, Bind bind, EachRow row) = 0;
  // Runs a statement; answers the number of rows it inserted, changed or deleted.
  virtual Outcome<std::int64_t> write(std::string_view sql, Bind bind) = 0;

 protected:
  Db() = default;
  Db(const Db&) = default;
  Db& operator=(const Db&) = default;
  virtual ~Db() = default;
};

// The connection a store's writer commits on (writer.hpp): one transaction per batch of
// operations, a savepoint per operation.
class WriteDb : public Db {
 public:
  // Starts the batch's transaction, with whatever the database needs for it (write locks).
  virtual Outcome<void> begin() = 0;
  // A statement without values and without rows: SAVEPOINT, RELEASE, ROLLBACK TO, ROLLBACK.
  virtual Outcome<void> exec(std::string_view sql) = 0;
  // Runs a script of statements without values (schema, migrations).
  virtual Outcome<void> exec_script(const char* sql) = 0;
  // COMMIT, and an error unless the database says it committed.
  virtual Outcome<void> commit() = 0;
  // Whether a transaction is open; false after begin() means the database rolled it back.
  [[nodiscard]] virtual bool in_transaction() const = 0;
  // The connection's last failure as an error: "store: <what>: <the database's message>".
  [[nodiscard]] virtual Error error(std::string_view what) const = 0;

 protected:
  WriteDb() = default;
  WriteDb(const WriteDb&) = default;
  WriteDb& operator=(const WriteDb&) = default;
  ~WriteDb() override = default;
};

}  // namespace dh::store
