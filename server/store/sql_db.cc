#include "server/store/sql_db.h"

#include "absl/strings/numbers.h"

namespace neobert::server::sql {

int64_t AsInt(const std::optional<std::string>& v) {
  int64_t out = 0;
  if (!v || !absl::SimpleAtoi(*v, &out)) return 0;
  return out;
}

const std::string& AsText(const std::optional<std::string>& v) {
  static const std::string kEmpty;
  return v ? *v : kEmpty;
}

std::string StatementHead(const std::string& sql) {
  std::string s = sql.substr(0, 40);
  for (char& c : s) {
    if (c == '\n') c = ' ';
  }
  return s;
}

}  // namespace neobert::server::sql
