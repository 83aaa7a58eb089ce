// The PostgreSQL driver (plain libpq): statements are prepared once per
// connection and cached by their text; `?` placeholders become $1, $2, ...
//
// Passwords: libpq's messages do not quote a password, but they may quote
// parts of a malformed DSN, so every message leaving this file goes through
// Scrub() with the DSN's password first.
#include <libpq-fe.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "server/store/drivers.h"

namespace neobert::server::sql {
namespace {

std::string Expand(const std::string& sql) {
  std::string s = absl::StrReplaceAll(
      sql, {{"{now}", "(extract(epoch from clock_timestamp()) * 1000)::bigint"},
            {"{skip_locked}", "FOR UPDATE SKIP LOCKED"},
            {"{strpos}", "strpos"},
            {"{serial_pk}", "BIGSERIAL PRIMARY KEY"}});
  std::string out;
  int n = 0;
  for (char c : s) {
    if (c == '?') {
      absl::StrAppend(&out, "$", ++n);
    } else {
      out += c;
    }
  }
  return out;
}

void IgnoreNotice(void*, const char*) {}

class PgConnection final : public Connection {
 public:
  PgConnection(PGconn* conn, std::string password, std::string described)
      : conn_(conn), password_(std::move(password)), described_(std::move(described)) {}
  ~PgConnection() override { PQfinish(conn_); }
  Dialect dialect() const override { return Dialect::kPostgres; }

  absl::StatusOr<Result> Run(const std::string& sql, const std::vector<Value>& params) override {
    std::string key(sql);
    auto it = prepared_.find(key);
    if (it == prepared_.end()) {
      const std::string name = absl::StrCat("s", prepared_.size() + 1);
      const std::string expanded = Expand(sql);
      PGresult* res = PQprepare(conn_, name.c_str(), expanded.c_str(), 0, nullptr);
      absl::Status s = Check(res, "prepare", sql);
      PQclear(res);
      if (!s.ok()) return s;
      it = prepared_.emplace(key, name).first;
    }
    std::vector<const char*> values(params.size());
    for (size_t i = 0; i < params.size(); ++i) {
      values[i] = params[i].text ? params[i].text->c_str() : nullptr;
    }
    PGresult* res = PQexecPrepared(conn_, it->second.c_str(), static_cast<int>(values.size()),
                                   values.data(), nullptr, nullptr, 0);
    absl::Status s = Check(res, "run", sql);
    if (!s.ok()) {
      PQclear(res);
      return s;
    }
    Result out;
    const int rows = PQntuples(res), cols = PQnfields(res);
    out.rows.reserve(rows);
    for (int r = 0; r < rows; ++r) {
      Row row(cols);
      for (int c = 0; c < cols; ++c) {
        if (!PQgetisnull(res, r, c)) row[c] = std::string(PQgetvalue(res, r, c), PQgetlength(res, r, c));
      }
      out.rows.push_back(std::move(row));
    }
    const char* affected = PQcmdTuples(res);
    out.affected = affected && *affected ? std::atoll(affected) : 0;
    PQclear(res);
    return out;
  }

  absl::Status Script(const std::string& sql) override {
    PGresult* res = PQexec(conn_, Expand(sql).c_str());
    absl::Status s = Check(res, "script", sql);
    PQclear(res);
    return s;
  }

  absl::Status Begin() override {
    PGresult* res = PQexec(conn_, "BEGIN");
    absl::Status s = Check(res, "begin", "BEGIN");
    PQclear(res);
    return s;
  }

  absl::Status Durable(bool) override { return absl::OkStatus(); }
  bool Retryable(const absl::Status& s) const override {
    return s.message().find("[40001]") != absl::string_view::npos ||
           s.message().find("[40P01]") != absl::string_view::npos;
  }
  bool Broken() const override { return PQstatus(conn_) != CONNECTION_OK; }

 private:
  absl::Status Check(PGresult* res, const char* what, const std::string& sql) {
    const ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return absl::OkStatus();
    const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
    std::string msg(absl::StripAsciiWhitespace(res ? PQresultErrorMessage(res) : PQerrorMessage(conn_)));
    if (msg.empty()) msg = std::string(absl::StripAsciiWhitespace(PQerrorMessage(conn_)));
    msg = Scrub(absl::StrCat(described_, ": ", what, " '", StatementHead(sql), "...': ", msg,
                             state ? absl::StrCat(" [", state, "]") : ""),
                password_);
    if (PQstatus(conn_) != CONNECTION_OK) {
      prepared_.clear();
      return absl::UnavailableError(msg);
    }
    return absl::InternalError(msg);
  }

  PGconn* conn_;
  std::string password_;
  std::string described_;
  std::map<std::string, std::string> prepared_;
};

}  // namespace

std::string Scrub(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  absl::StrReplaceAll({{secret, "***"}}, &text);
  return text;
}

std::string DsnPassword(const std::string& dsn) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(dsn.c_str(), &err);
  if (err) PQfreemem(err);
  std::string password;
  for (PQconninfoOption* o = opts; o && o->keyword; ++o) {
    if (std::string(o->keyword) == "password" && o->val) password = o->val;
  }
  if (opts) PQconninfoFree(opts);
  if (!password.empty() || opts) return password;
  // libpq rejected the DSN (an unknown option, say) but its message may
  // still quote it: find the password by hand.
  if (auto scheme = dsn.find("://"); scheme != std::string::npos) {
    const size_t start = scheme + 3, at = dsn.find('@', start);
    const size_t slash = dsn.find('/', start);
    if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
      const std::string userinfo = dsn.substr(start, at - start);
      if (auto colon = userinfo.find(':'); colon != std::string::npos) return userinfo.substr(colon + 1);
    }
  } else if (auto p = dsn.find("password="); p != std::string::npos) {
    const size_t start = p + 9;
    return dsn.substr(start, dsn.find(' ', start) - start);
  }
  return "";
}

std::string DescribePostgres(const std::string& dsn) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(dsn.c_str(), &err);
  if (err) PQfreemem(err);
  if (!opts) return "PostgreSQL (unparsable DSN)";
  std::string out = "PostgreSQL";
  for (PQconninfoOption* o = opts; o->keyword; ++o) {
    const std::string k = o->keyword;
    if (o->val && *o->val && (k == "host" || k == "hostaddr" || k == "port" || k == "dbname" || k == "user")) {
      absl::StrAppend(&out, " ", k, "=", o->val);
    }
  }
  PQconninfoFree(opts);
  return out;
}

absl::StatusOr<std::unique_ptr<Connection>> OpenPostgres(const std::string& dsn,
                                                         const std::string& described) {
  const std::string password = DsnPassword(dsn);
  PGconn* conn = PQconnectdb(dsn.c_str());
  if (!conn) return absl::UnavailableError(absl::StrCat(described, ": out of memory"));
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string msg(absl::StripAsciiWhitespace(PQerrorMessage(conn)));
    PQfinish(conn);
    return absl::UnavailableError(
        Scrub(absl::StrCat("cannot connect to ", described, ": ", msg), password));
  }
  PQsetNoticeProcessor(conn, IgnoreNotice, nullptr);
  return std::make_unique<PgConnection>(conn, password, described);
}

}  // namespace neobert::server::sql
