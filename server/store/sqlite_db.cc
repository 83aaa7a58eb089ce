// The SQLite driver (libsqlite3): statements are prepared once and cached by
// their text; tokens expanded for SQLite's dialect.
#include <sqlite3.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/base/status_macros.h"
#include "server/store/drivers.h"

namespace neobert::server::sql {
namespace {

// How long a statement waits for another connection's write lock (only
// other processes could hold it: one server owns the database).
constexpr int kBusyTimeoutMs = 10000;

std::string Expand(const std::string& sql) {
  return absl::StrReplaceAll(
      sql, {{"{now}", "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)"},
            {"{skip_locked}", ""},
            {"{strpos}", "instr"},
            {"{serial_pk}", "INTEGER PRIMARY KEY AUTOINCREMENT"}});
}

class SqliteConnection final : public Connection {
 public:
  SqliteConnection(sqlite3* db, std::string path, bool sync)
      : db_(db), path_(std::move(path)), sync_(sync) {}
  ~SqliteConnection() override {
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
    sqlite3_close(db_);
  }
  Dialect dialect() const override { return Dialect::kSqlite; }

  absl::StatusOr<Result> Run(const std::string& sql, const std::vector<Value>& params) override {
    sqlite3_stmt* stmt = nullptr;
    std::string key(sql);
    if (auto it = cache_.find(key); it != cache_.end()) {
      stmt = it->second;
    } else {
      const std::string expanded = Expand(sql);
      if (sqlite3_prepare_v3(db_, expanded.c_str(), static_cast<int>(expanded.size()),
                             SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
        return Error("prepare", sql);
      }
      cache_[key] = stmt;
    }
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    for (size_t i = 0; i < params.size(); ++i) {
      const int at = static_cast<int>(i) + 1;
      const int rc = params[i].text
                         ? sqlite3_bind_text(stmt, at, params[i].text->data(),
                                             static_cast<int>(params[i].text->size()), SQLITE_STATIC)
                         : sqlite3_bind_null(stmt, at);
      if (rc != SQLITE_OK) return Error("bind", sql);
    }
    Result out;
    for (;;) {
      const int rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) {
        absl::Status s = Error("step", sql);
        sqlite3_reset(stmt);
        return s;
      }
      Row row(sqlite3_column_count(stmt));
      for (int c = 0; c < static_cast<int>(row.size()); ++c) {
        if (sqlite3_column_type(stmt, c) == SQLITE_NULL) continue;
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
        row[c] = std::string(text, sqlite3_column_bytes(stmt, c));
      }
      out.rows.push_back(std::move(row));
    }
    out.affected = sqlite3_changes(db_);
    sqlite3_reset(stmt);
    return out;
  }

  absl::Status Script(const std::string& sql) override {
    char* err = nullptr;
    const std::string expanded = Expand(sql);
    if (sqlite3_exec(db_, expanded.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      absl::Status s = absl::InternalError(absl::StrCat("SQLite ", path_, ": ", err ? err : "error"));
      sqlite3_free(err);
      return s;
    }
    return absl::OkStatus();
  }

  absl::Status Begin() override {
    auto r = Run("BEGIN IMMEDIATE", {});
    return r.ok() ? absl::OkStatus() : r.status();
  }
  absl::Status Durable(bool on) override {
    if (!sync_) return absl::OkStatus();
    auto r = Run(on ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL", {});
    return r.ok() ? absl::OkStatus() : r.status();
  }
  bool Retryable(const absl::Status&) const override { return false; }
  bool Broken() const override { return false; }

 private:
  absl::Status Error(const char* what, const std::string& sql) {
    const int code = sqlite3_errcode(db_);
    std::string msg = absl::StrCat("SQLite ", path_, ": ", what, " '", StatementHead(sql), "...': ",
                                   sqlite3_errmsg(db_));
    if (code == SQLITE_BUSY || code == SQLITE_LOCKED) return absl::UnavailableError(msg);
    if (code == SQLITE_FULL || code == SQLITE_IOERR || code == SQLITE_READONLY) {
      return absl::ResourceExhaustedError(msg);
    }
    return absl::InternalError(msg);
  }

  sqlite3* db_;
  std::string path_;
  bool sync_;
  std::map<std::string, sqlite3_stmt*> cache_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Connection>> OpenSqlite(const std::string& path, bool sync) {
  sqlite3* db = nullptr;
  const std::string name = path.empty() ? ":memory:" : path;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(name.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return absl::FailedPreconditionError(absl::StrCat("cannot open SQLite database '", name, "': ", msg));
  }
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  auto conn = std::make_unique<SqliteConnection>(db, name, sync);
  const std::string pragmas = absl::StrCat(
      path.empty() ? "" : "PRAGMA journal_mode=WAL;",
      "PRAGMA synchronous=NORMAL;PRAGMA foreign_keys=ON;PRAGMA temp_store=MEMORY;");
  RETURN_IF_ERROR(conn->Script(pragmas));
  return conn;
}

}  // namespace neobert::server::sql
