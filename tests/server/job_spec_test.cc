// Typed job specs (server/job.h) and how the store keeps them
// (server/store/job_codec.h), including rows written by the previous
// version, which a rolling update leaves in a shared store.
#include <gtest/gtest.h>

#include "core/status/error_reason.h"
#include "server/device_policy.h"
#include "server/job.h"
#include "server/proto_convert.h"
#include "server/store/job_codec.h"

namespace neobert::server {
namespace {

// The row a validation job got from the server before specs were typed
// (read back from its SQLite jobs.db): every field of both kinds.
constexpr char kPreviousValidateRow[] =
    R"({"checkpoint_dir":"","device":"cpu","drop_decoder_bias":false,"dry_run":false,)"
    R"("dtype":"keep","idempotency_key":"","kind":"validate","max_shard_bytes":0,)"
    R"("output_dir":"","overwrite":false,"prefer_newest_file":false,"sync":true,)"
    R"("validate":false,"validate_dir":"/tmp/oldrow/out/x","validate_source":"/tmp/oldrow/in/c",)"
    R"("validate_strict":true,"write_pytorch_bin":true})";

JobSpec ValidateJob() {
  core::ValidateOptions v;
  v.export_dir = "/tmp/oldrow/out/x";
  v.source_dir = "/tmp/oldrow/in/c";
  v.device = "cpu";
  v.strict = true;
  return JobSpec{.options = std::move(v), .idempotency_key = ""};
}

TEST(JobSpec, EachKindHoldsOnlyItsOwnOptions) {
  JobSpec e;
  EXPECT_EQ(e.kind(), JobKind::kExport);  // the default
  e.export_options()->checkpoint_dir = "/in/c";
  e.export_options()->output_dir = "/out/e";
  EXPECT_EQ(e.validate_options(), nullptr);
  EXPECT_EQ(JobSource(e), "/in/c");
  EXPECT_EQ(JobDestination(e), "/out/e");
  EXPECT_EQ(e.device(), "auto");
  e.set_device("cuda:1");
  EXPECT_EQ(e.export_options()->device, "cuda:1");

  JobSpec v = ValidateJob();
  EXPECT_EQ(v.kind(), JobKind::kValidate);
  EXPECT_EQ(v.export_options(), nullptr);
  EXPECT_EQ(JobSource(v), "/tmp/oldrow/out/x");
  EXPECT_EQ(JobDestination(v), "");
  v.set_device("cuda:0");
  EXPECT_EQ(v.validate_options()->device, "cuda:0");
  EXPECT_STREQ(JobKindName(v.kind()), "validate");
}

TEST(JobCodec, ValidationRowsKeepThePreviousLayoutBothWays) {
  // Written now exactly as the previous version wrote it, so its replicas
  // read it during a rolling update ...
  EXPECT_EQ(EncodeSpec(ValidateJob()), kPreviousValidateRow);
  // ... and its rows read back as typed specs.
  auto decoded = DecodeSpec(kPreviousValidateRow);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_EQ(decoded->kind(), JobKind::kValidate);
  const core::ValidateOptions& v = *decoded->validate_options();
  EXPECT_EQ(v.export_dir, "/tmp/oldrow/out/x");
  EXPECT_EQ(v.source_dir, "/tmp/oldrow/in/c");
  EXPECT_EQ(v.device, "cpu");
  EXPECT_TRUE(v.strict);
  EXPECT_EQ(SpecKey(*decoded), SpecKey(ValidateJob()));
}

TEST(JobCodec, ExportSpecRoundTripsEveryField) {
  core::ExportOptions o;
  o.checkpoint_dir = "/in/run/checkpoints/7";
  o.output_dir = "/out/run_7";
  o.dtype = "bfloat16";
  o.max_shard_bytes = 5'000'000'000ull;
  o.write_pytorch_bin = false;
  o.overwrite = true;
  o.dry_run = true;
  o.drop_decoder_bias = true;
  o.prefer_newest_file = true;
  o.sync = false;
  o.validate = true;
  o.device = "cuda:3";
  const JobSpec spec{.options = o, .idempotency_key = "step-7"};
  auto back = DecodeSpec(EncodeSpec(spec));
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->kind(), JobKind::kExport);
  const core::ExportOptions& b = *back->export_options();
  EXPECT_EQ(b.checkpoint_dir, o.checkpoint_dir);
  EXPECT_EQ(b.output_dir, o.output_dir);
  EXPECT_EQ(b.dtype, o.dtype);
  EXPECT_EQ(b.max_shard_bytes, o.max_shard_bytes);
  EXPECT_EQ(b.write_pytorch_bin, o.write_pytorch_bin);
  EXPECT_EQ(b.overwrite, o.overwrite);
  EXPECT_EQ(b.dry_run, o.dry_run);
  EXPECT_EQ(b.drop_decoder_bias, o.drop_decoder_bias);
  EXPECT_EQ(b.prefer_newest_file, o.prefer_newest_file);
  EXPECT_EQ(b.sync, o.sync);
  EXPECT_EQ(b.validate, o.validate);
  EXPECT_EQ(b.device, o.device);
  EXPECT_EQ(back->idempotency_key, "step-7");
  EXPECT_EQ(SpecDifference(*back, spec), "");
  EXPECT_EQ(SpecDifference(*back, ValidateJob()), "kind");
}

TEST(JobCodec, UnknownKindIsRefusedNamingIt) {
  std::string row = kPreviousValidateRow;
  row.replace(row.find("\"validate\","), 11, "\"convert\",");
  auto decoded = DecodeSpec(row);
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.status().message().find("unknown kind 'convert'"), std::string::npos)
      << decoded.status();
}

// The request conversion runs core's one options check: a malformed value
// is the request's fault, named, before anything is queued.
TEST(ProtoConvert, RequestsPassTheOneOptionsCheck) {
  pb::ExportRequest e;
  e.set_checkpoint_dir("/in/c");
  e.set_dtype("int8");
  auto bad_dtype = ExportOptionsFromProto(e);
  EXPECT_EQ(bad_dtype.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(core::ReasonOf(bad_dtype.status()), core::ErrorReason::kInvalidRequest);
  EXPECT_NE(bad_dtype.status().message().find("int8"), std::string::npos);

  e.set_dtype("");
  e.set_device("gpu7");
  auto bad_device = ExportOptionsFromProto(e);
  EXPECT_EQ(core::ReasonOf(bad_device.status()), core::ErrorReason::kInvalidRequest);
  EXPECT_NE(bad_device.status().message().find("gpu7"), std::string::npos);

  e.set_device("");  // the server's policy chooses
  auto ok = ExportOptionsFromProto(e);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->dtype, "keep");
  EXPECT_TRUE(ok->write_pytorch_bin);
  EXPECT_TRUE(ok->validate);  // the server validates unless asked not to

  pb::ValidateRequest v;
  EXPECT_EQ(core::ReasonOf(ValidateOptionsFromProto(v).status()),
            core::ErrorReason::kInvalidRequest);  // no folder named
  v.set_export_dir("/out/x");
  v.set_device("cuda:x");
  EXPECT_EQ(ValidateOptionsFromProto(v).status().code(), absl::StatusCode::kInvalidArgument);
  v.set_device("cuda:2");
  v.set_strict(true);
  auto vo = ValidateOptionsFromProto(v);
  ASSERT_TRUE(vo.ok()) << vo.status();
  EXPECT_EQ(vo->device, "cuda:2");
  EXPECT_TRUE(vo->strict);
}

// The device policy reads names through the one parser too.
TEST(DevicePolicy, NamesParseOnceEverywhere) {
  auto cpu_only = DevicePolicy::Create("auto", 0);
  ASSERT_TRUE(cpu_only.ok());
  EXPECT_EQ(cpu_only->Check("cuda:+1").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cpu_only->Check(" cuda:1").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cpu_only->Check("cuda:1").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(*cpu_only->Assign(""), "cpu");
  auto two = DevicePolicy::Create("auto", 2);
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(*two->Assign("cuda"), "cuda:0");
  EXPECT_EQ(*two->Assign("cuda:1"), "cuda:1");
  EXPECT_EQ(DevicePolicy::Create("cuda:x", 2).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DevicePolicy::Create("cuda:2", 2).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace neobert::server
