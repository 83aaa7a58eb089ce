// Status plumbing shared by every layer: early returns and the one way to add
// context to an error.
//
//   RETURN_IF_ERROR(expr);                  // return expr's status if not OK
//   RETURN_IF_ERROR(expr, context...);      // ... prefixed with "context: "
//   ASSIGN_OR_RETURN(lhs, expr);            // lhs = *expr, or return its status
//   ASSIGN_OR_RETURN(lhs, expr, context...);
//   return WithContext(status, context...); // the same prefixing, by hand
//
// `context...` is one or more absl::StrCat arguments; it is evaluated only on
// the error path, so building it costs nothing when the call succeeds.
//
// Adding context keeps the status code and every payload (error reasons
// travel as payloads): only the message changes, to "<context>: <message>".
// Context reads from the outside in, e.g. "ckpt/state_dict.pt: zip: entry
// 'a': ...". A layer adds what its caller cannot know (the file, the tensor,
// the record) and nothing the message already says.
//
// Include this from .cc files only: the macro names are short and must not
// leak into other projects' headers.
#pragma once

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace neobert::base {

// `status` with "<context>: " in front of its message; code and payloads
// kept. OK stays OK.
template <typename... Context>
absl::Status WithContext(const absl::Status& status, const Context&... context) {
  if (status.ok() || sizeof...(Context) == 0) return status;
  absl::Status out(status.code(), absl::StrCat(context..., ": ", status.message()));
  status.ForEachPayload(
      [&](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

namespace internal {
inline const absl::Status& StatusOf(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}
}  // namespace internal

}  // namespace neobert::base

#define NEOBERT_STATUS_CONCAT_INNER(a, b) a##b
#define NEOBERT_STATUS_CONCAT(a, b) NEOBERT_STATUS_CONCAT_INNER(a, b)

// RETURN_IF_ERROR(expr [, context...]): expr is an absl::Status or StatusOr.
#define RETURN_IF_ERROR(expr, ...)                                                        \
  do {                                                                                    \
    if (const auto& neobert_status_ = (expr); !neobert_status_.ok()) {                    \
      return ::neobert::base::WithContext(                                                \
          ::neobert::base::internal::StatusOf(neobert_status_) __VA_OPT__(, ) __VA_ARGS__); \
    }                                                                                     \
  } while (0)

// ASSIGN_OR_RETURN(lhs, expr [, context...]): lhs may be a declaration
// (`auto x`, `const Foo& y` is not allowed: it would dangle) or an lvalue.
#define ASSIGN_OR_RETURN(lhs, expr, ...)                                          \
  NEOBERT_ASSIGN_OR_RETURN_IMPL(NEOBERT_STATUS_CONCAT(neobert_statusor_, __LINE__), \
                                lhs, expr __VA_OPT__(, ) __VA_ARGS__)
#define NEOBERT_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr, ...)                      \
  auto tmp = (expr);                                                          \
  if (!tmp.ok()) {                                                            \
    return ::neobert::base::WithContext(tmp.status() __VA_OPT__(, ) __VA_ARGS__); \
  }                                                                           \
  lhs = *std::move(tmp)
