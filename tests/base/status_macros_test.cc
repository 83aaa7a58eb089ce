#include "core/base/status_macros.h"

#include <memory>
#include <string>

#include "absl/strings/cord.h"
#include "gtest/gtest.h"

namespace neobert::base {
namespace {

absl::Status Fails() { return absl::NotFoundError("no such file"); }
absl::StatusOr<std::unique_ptr<int>> Gives(int v) { return std::make_unique<int>(v); }
absl::StatusOr<std::unique_ptr<int>> Refuses() { return absl::InvalidArgumentError("bad"); }

int context_built = 0;
std::string CountedContext() {
  ++context_built;
  return "built";
}

absl::Status ReturnIfError(bool fail) {
  RETURN_IF_ERROR(fail ? Fails() : absl::OkStatus());
  return absl::CancelledError("reached the end");
}

absl::Status ReturnIfErrorWithContext() {
  RETURN_IF_ERROR(Fails(), "reading ", "config.yaml");
  return absl::OkStatus();
}

absl::StatusOr<int> AssignOrReturn(bool fail) {
  ASSIGN_OR_RETURN(std::unique_ptr<int> v, fail ? Refuses() : Gives(7));
  int sum = *v;
  ASSIGN_OR_RETURN(v, Gives(5));  // assigns to an existing variable
  return sum + *v;
}

absl::StatusOr<int> AssignOrReturnWithContext() {
  ASSIGN_OR_RETURN(auto v, Refuses(), "tensor '", "w", "'");
  return *v;
}

TEST(StatusMacrosTest, ReturnIfErrorReturnsTheErrorUnchanged) {
  EXPECT_EQ(ReturnIfError(true), absl::NotFoundError("no such file"));
  EXPECT_TRUE(absl::IsCancelled(ReturnIfError(false)));
}

TEST(StatusMacrosTest, ReturnIfErrorAddsContextKeepingTheCode) {
  EXPECT_EQ(ReturnIfErrorWithContext(), absl::NotFoundError("reading config.yaml: no such file"));
}

TEST(StatusMacrosTest, AssignOrReturnMovesTheValueOrReturns) {
  EXPECT_EQ(*AssignOrReturn(false), 12);
  EXPECT_EQ(AssignOrReturn(true).status(), absl::InvalidArgumentError("bad"));
  EXPECT_EQ(AssignOrReturnWithContext().status(), absl::InvalidArgumentError("tensor 'w': bad"));
}

TEST(StatusMacrosTest, ContextIsBuiltOnlyOnError) {
  auto ok = []() -> absl::Status {
    RETURN_IF_ERROR(absl::OkStatus(), CountedContext());
    ASSIGN_OR_RETURN(auto v, Gives(1), CountedContext());
    return *v == 1 ? absl::OkStatus() : absl::InternalError("wrong value");
  };
  context_built = 0;
  EXPECT_TRUE(ok().ok());
  EXPECT_EQ(context_built, 0);
}

TEST(StatusMacrosTest, WithContextKeepsPayloads) {
  absl::Status s = absl::FailedPreconditionError("destination exists");
  s.SetPayload("type.googleapis.com/neobert.reason", absl::Cord("DESTINATION_EXISTS"));
  const absl::Status out = WithContext(s, "/exports/a");
  EXPECT_EQ(out.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(out.message(), "/exports/a: destination exists");
  ASSERT_TRUE(out.GetPayload("type.googleapis.com/neobert.reason").has_value());
  EXPECT_EQ(*out.GetPayload("type.googleapis.com/neobert.reason"), "DESTINATION_EXISTS");
  EXPECT_TRUE(WithContext(absl::OkStatus(), "ignored").ok());
  EXPECT_EQ(WithContext(s), s);
}

}  // namespace
}  // namespace neobert::base
