// server/status_mapping.h: a status becomes a gRPC status whose
// grpc-status-details-bin is a google.rpc.Status with the ErrorInfo (and
// RetryInfo), and a job's error message with the same facts.
#include "server/status_mapping.h"

#include "core/status/error_reason.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"

namespace neobert::server {
namespace {

TEST(StatusMapping, DetailsCarryErrorInfoAndRetryInfo) {
  absl::Status s = core::WithReason(absl::ResourceExhaustedError("queue full"),
                                    core::ErrorReason::kQueueFull, {{"queue_capacity", "16"}});
  s.SetPayload("type.example.com/other", absl::Cord("opaque"));
  grpc::Status g = ToGrpcStatus(s);
  EXPECT_EQ(g.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(g.error_message(), "queue full");
  google::rpc::Status rpc;
  ASSERT_TRUE(rpc.ParseFromString(g.error_details()));
  EXPECT_EQ(rpc.code(), 8);
  EXPECT_EQ(rpc.message(), "queue full");
  ASSERT_EQ(rpc.details_size(), 3);
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(rpc.details(0).UnpackTo(&info));
  EXPECT_EQ(info.reason(), "QUEUE_FULL");
  EXPECT_EQ(info.domain(), "neobert.exporter.v1");
  EXPECT_EQ(info.metadata().at("queue_capacity"), "16");
  EXPECT_EQ(info.metadata().at("retryable"), "true");
  google::rpc::RetryInfo retry;
  ASSERT_TRUE(rpc.details(1).UnpackTo(&retry));
  EXPECT_EQ(retry.retry_delay().seconds(), 2);  // the default hint
  EXPECT_EQ(rpc.details(2).type_url(), "type.example.com/other");

  ::neobert::exporter::v1::Status job;
  ToProtoStatus(s, &job);
  EXPECT_EQ(job.code(), 8);
  EXPECT_EQ(job.reason(), ::neobert::exporter::v1::Status::QUEUE_FULL);
  EXPECT_TRUE(job.retryable());
  EXPECT_EQ(job.retry_delay().seconds(), 2);
}

TEST(StatusMapping, ReasonFromTheCodeWhenNoneWasSet) {
  grpc::Status g = ToGrpcStatus(absl::PermissionDeniedError("outside the roots"));
  google::rpc::Status rpc;
  ASSERT_TRUE(rpc.ParseFromString(g.error_details()));
  ASSERT_EQ(rpc.details_size(), 1);  // no retry hint
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(rpc.details(0).UnpackTo(&info));
  EXPECT_EQ(info.reason(), "PATH_DENIED");
  EXPECT_EQ(info.metadata().at("retryable"), "false");
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  ::neobert::exporter::v1::Status job;
  job.set_code(3);
  ToProtoStatus(absl::OkStatus(), &job);
  EXPECT_EQ(job.code(), 0);
}

}  // namespace
}  // namespace neobert::server
