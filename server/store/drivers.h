// The two SQL drivers behind sql_db.h, and what each backend needs besides:
// SQLite's single-server lock on the state dir, PostgreSQL's DSN handling.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/store/sql_db.h"

namespace neobert::server::sql {

// SQLite at `path` ("" = a private in-memory database), WAL, a busy timeout,
// foreign keys on, synchronous=NORMAL (a commit survives the process dying,
// not a power failure); with `sync`, Durable(true) makes commits fsync.
absl::StatusOr<std::unique_ptr<Connection>> OpenSqlite(const std::string& path, bool sync);

// A libpq connection. Errors are UNAVAILABLE and carry libpq's message with
// the password removed; `described` ("PostgreSQL host=... dbname=...") names
// the server in them.
absl::StatusOr<std::unique_ptr<Connection>> OpenPostgres(const std::string& dsn,
                                                         const std::string& described);
// "PostgreSQL host=H port=P dbname=D user=U" from a DSN (no password), or
// "PostgreSQL (unparsable DSN)".
std::string DescribePostgres(const std::string& dsn);
// Removes `secret` (when non-empty) from `text`.
std::string Scrub(std::string text, const std::string& secret);
// The password a DSN carries ("" when none).
std::string DsnPassword(const std::string& dsn);

}  // namespace neobert::server::sql
