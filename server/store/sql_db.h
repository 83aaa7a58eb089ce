// The few things the job store needs from a SQL database, so that one set of
// queries (sql_store.cc) serves SQLite and PostgreSQL.
//
// Statements use `?` placeholders (the PostgreSQL driver numbers them) and
// these dialect tokens, which each driver replaces:
//   {now}         the database's clock in Unix milliseconds
//   {skip_locked} "FOR UPDATE SKIP LOCKED" (PostgreSQL) / "" (SQLite: the
//                 transaction already holds the only write lock)
//   {strpos}      a function (haystack, needle) → 1-based position or 0
//   {serial_pk}   an auto-incrementing 64-bit integer primary key (schema)
// Values travel as text (or NULL); integers are decimal.
//
// A connection is used by one thread at a time (the store's pool hands them
// out); the drivers are thread-compatible, not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace neobert::server::sql {

// One bound parameter.
struct Value {
  Value() = default;  // NULL
  Value(std::string s) : text(std::move(s)) {}  // NOLINT: implicit on purpose
  Value(const char* s) : text(std::string(s)) {}  // NOLINT
  Value(int64_t v) : text(std::to_string(v)) {}   // NOLINT
  Value(int v) : text(std::to_string(v)) {}       // NOLINT
  Value(bool v) : text(v ? "1" : "0") {}          // NOLINT
  std::optional<std::string> text;
};

// A result row: each column as text, nullopt for NULL.
using Row = std::vector<std::optional<std::string>>;

struct Result {
  std::vector<Row> rows;
  int64_t affected = 0;  // rows changed by INSERT/UPDATE/DELETE
};

enum class Dialect { kSqlite, kPostgres };

class Connection {
 public:
  virtual ~Connection() = default;
  virtual Dialect dialect() const = 0;
  // Runs one statement. Errors name the statement's first words, never a
  // parameter or a password.
  virtual absl::StatusOr<Result> Run(const std::string& sql, const std::vector<Value>& params = {}) = 0;
  // Runs several ;-separated statements without parameters (schema).
  virtual absl::Status Script(const std::string& sql) = 0;
  // BEGIN for a transaction that will write (SQLite: BEGIN IMMEDIATE, so two
  // writers never deadlock on the upgrade).
  virtual absl::Status Begin() = 0;
  // The next commits are durable (fsynced) when `on`, else they may be lost
  // to a power failure (never to a crash of the process). SQLite with sync:
  // synchronous FULL / NORMAL; PostgreSQL commits are always durable.
  virtual absl::Status Durable(bool on) = 0;
  // True when the last error was a serialization failure or deadlock that a
  // retry of the whole transaction resolves.
  virtual bool Retryable(const absl::Status& status) const = 0;
  // True when the connection is gone and must be reopened.
  virtual bool Broken() const = 0;
};

// Parses a non-negative or negative decimal column; 0 for NULL or junk.
int64_t AsInt(const std::optional<std::string>& v);
const std::string& AsText(const std::optional<std::string>& v);
// The first words of a statement, for error messages.
std::string StatementHead(const std::string& sql);

}  // namespace neobert::server::sql
