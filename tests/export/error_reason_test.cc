// core/status/error_reason.h: reasons survive as absl::Status payloads in the
// google.rpc wire format, defaults follow the code, context keeps payloads.
#include "core/status/error_reason.h"

#include "core/base/status_macros.h"
#include "gtest/gtest.h"

namespace neobert::core {
namespace {

TEST(ErrorReason, NamesRoundTripAndRetryability) {
  for (int i = 0; i <= 17; ++i) {
    const auto r = static_cast<ErrorReason>(i);
    auto back = ErrorReasonFromName(ErrorReasonName(r));
    ASSERT_TRUE(back.has_value()) << i;
    EXPECT_EQ(*back, r);
  }
  EXPECT_FALSE(ErrorReasonFromName("NO_SUCH_REASON").has_value());
  for (auto r : {ErrorReason::kQueueFull, ErrorReason::kDraining, ErrorReason::kInterrupted,
                 ErrorReason::kInternal}) {
    EXPECT_TRUE(IsRetryable(r)) << ErrorReasonName(r);
  }
  for (auto r : {ErrorReason::kCheckpointInvalid, ErrorReason::kCheckpointNotFound,
                 ErrorReason::kPathDenied, ErrorReason::kValidationFailed, ErrorReason::kCancelled,
                 ErrorReason::kUnauthenticated}) {
    EXPECT_FALSE(IsRetryable(r)) << ErrorReasonName(r);
  }
}

TEST(ErrorReason, PayloadCarriesReasonMetadataAndDelay) {
  absl::Status s = MakeError(ErrorReason::kCheckpointNotFound, "step 100 is gone",
                             {{"checkpoint_dir", "/runs/r/checkpoints/100"}, {"empty", ""}});
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  s = WithRetryDelay(s, absl::Milliseconds(2500));
  ErrorDetails d = DetailsOf(s);
  EXPECT_EQ(d.reason, ErrorReason::kCheckpointNotFound);
  EXPECT_TRUE(d.explicit_reason);
  EXPECT_FALSE(d.retryable);
  EXPECT_EQ(d.metadata.at("checkpoint_dir"), "/runs/r/checkpoints/100");
  EXPECT_EQ(d.metadata.at("empty"), "");
  ASSERT_TRUE(d.retry_delay.has_value());
  EXPECT_EQ(*d.retry_delay, absl::Milliseconds(2500));
  // The payload is a google.rpc.ErrorInfo: field 1 (reason), 2 (domain), 3 (map entries).
  auto raw = s.GetPayload(kErrorInfoTypeUrl);
  ASSERT_TRUE(raw.has_value());
  const std::string bytes(*raw);
  EXPECT_EQ(bytes.substr(0, 2), std::string("\x0a\x14", 2));  // tag 1, 20 bytes
  EXPECT_EQ(bytes.substr(2, 20), "CHECKPOINT_NOT_FOUND");

  // Context in front of the message keeps code and payloads.
  absl::Status c = base::WithContext(s, "export of step 100");
  EXPECT_EQ(c.message(), "export of step 100: step 100 is gone");
  EXPECT_EQ(ReasonOf(c), ErrorReason::kCheckpointNotFound);
  EXPECT_EQ(DetailsOf(c).retry_delay, absl::Milliseconds(2500));

  // WithReason merges metadata; WithDefaultReason keeps an explicit reason.
  c = WithReason(c, ErrorReason::kCheckpointInvalid, {{"tensor", "decoder.weight"}});
  EXPECT_EQ(ReasonOf(c), ErrorReason::kCheckpointInvalid);
  EXPECT_EQ(DetailsOf(c).metadata.size(), 3u);
  EXPECT_EQ(ReasonOf(WithDefaultReason(c, ErrorReason::kJobNotFound)), ErrorReason::kCheckpointInvalid);
  EXPECT_TRUE(WithReason(absl::OkStatus(), ErrorReason::kInternal).ok());
}

TEST(ErrorReason, DefaultsByCodeAndGarbagePayloads) {
  EXPECT_EQ(ReasonOf(absl::InvalidArgumentError("x")), ErrorReason::kCheckpointInvalid);
  EXPECT_EQ(ReasonOf(absl::PermissionDeniedError("x")), ErrorReason::kPathDenied);
  EXPECT_EQ(ReasonOf(absl::ResourceExhaustedError("x")), ErrorReason::kQueueFull);
  EXPECT_EQ(ReasonOf(absl::UnavailableError("x")), ErrorReason::kDraining);
  EXPECT_EQ(ReasonOf(absl::AbortedError("x")), ErrorReason::kInterrupted);
  EXPECT_EQ(ReasonOf(absl::DataLossError("x")), ErrorReason::kInternal);
  EXPECT_FALSE(DetailsOf(absl::InternalError("x")).explicit_reason);
  EXPECT_EQ(ReasonOf(absl::OkStatus()), ErrorReason::kUnspecified);
  // A truncated or hostile payload is ignored, never trusted past its end.
  for (const std::string& junk : {std::string("\x0a\xff\xff\xff\xff\x0f", 6), std::string("\x0a\x05" "AB", 4),
                                 std::string("\x1a\x03\x0a\x09x", 5), std::string("\xff", 1)}) {
    absl::Status s = absl::NotFoundError("x");
    s.SetPayload(kErrorInfoTypeUrl, absl::Cord(junk));
    s.SetPayload(kRetryInfoTypeUrl, absl::Cord(junk));
    EXPECT_EQ(ReasonOf(s), ErrorReason::kCheckpointNotFound);
  }
}

}  // namespace
}  // namespace neobert::core
