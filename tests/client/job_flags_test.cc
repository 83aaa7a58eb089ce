// The one flags → options function of the CLI (client/job_flags.h), and the
// request it becomes on the wire: the server reads back the options the
// client meant (server/proto_convert.h is the inverse of ToExportRequest).
#include "client/job_flags.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "client/remote_client.h"
#include "server/proto_convert.h"

namespace neobert::cli {
namespace {

ParsedArgs Parse(const std::vector<std::string>& args, const FlagSpec& spec) {
  auto p = ParseArgs(args, spec);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *p : ParsedArgs{};
}

const std::vector<std::string> kShared = {
    "run/checkpoints/7", "-o", "hf/run_7", "--dtype", "bfloat16", "--max-shard-size", "2GiB",
    "--no-pytorch-bin", "--drop-decoder-bias", "--overwrite", "--dry-run",
    "--prefer-newest-file", "--device", "cuda:1"};

TEST(JobFlags, ExportFlagsMeanTheSameLocallyAndRemotely) {
  auto local = ExportOptionsFromFlags(Parse(kShared, ExportFlags(JobMode::kLocal)), JobMode::kLocal);
  auto remote =
      ExportOptionsFromFlags(Parse(kShared, ExportFlags(JobMode::kRemote)), JobMode::kRemote);
  ASSERT_TRUE(local.ok() && remote.ok());
  EXPECT_EQ(local->checkpoint_dir, "run/checkpoints/7");
  // The server has no working directory of ours.
  const auto cwd = std::filesystem::current_path();
  EXPECT_EQ(remote->checkpoint_dir, (cwd / "run/checkpoints/7").string());
  EXPECT_EQ(remote->output_dir, (cwd / "hf/run_7").string());
  for (const core::ExportOptions* o : {&*local, &*remote}) {
    EXPECT_EQ(o->dtype, "bfloat16");
    EXPECT_EQ(o->max_shard_bytes, 2ull << 30);
    EXPECT_FALSE(o->write_pytorch_bin);
    EXPECT_TRUE(o->drop_decoder_bias && o->overwrite && o->dry_run && o->prefer_newest_file);
    EXPECT_EQ(o->device, "cuda:1");
    EXPECT_EQ(core::OutputAffectingOptions(*o), core::OutputAffectingOptions(*local));
  }
}

TEST(JobFlags, DefaultsFollowWhereTheJobRuns) {
  auto local = ExportOptionsFromFlags(Parse({"c"}, ExportFlags(JobMode::kLocal)), JobMode::kLocal);
  auto remote = ExportOptionsFromFlags(Parse({"c"}, ExportFlags(JobMode::kRemote)), JobMode::kRemote);
  ASSERT_TRUE(local.ok() && remote.ok());
  EXPECT_EQ(local->device, "auto");
  EXPECT_EQ(remote->device, "");  // the server's --device policy
  EXPECT_FALSE(local->validate);
  EXPECT_TRUE(remote->validate);  // the server validates unless --no-validate
  EXPECT_TRUE(local->sync && local->sanity_check);
  auto quick = ExportOptionsFromFlags(
      Parse({"c", "--no-fsync", "--no-sanity", "--validate"}, ExportFlags(JobMode::kLocal)),
      JobMode::kLocal);
  ASSERT_TRUE(quick.ok());
  EXPECT_FALSE(quick->sync || quick->sanity_check);
  EXPECT_TRUE(quick->validate);
  // Flags of the other mode are usage errors, never ignored.
  EXPECT_FALSE(ParseArgs({"c", "--no-fsync"}, ExportFlags(JobMode::kRemote)).ok());
  EXPECT_FALSE(ParseArgs({"c", "--idempotency-key", "k"}, ExportFlags(JobMode::kLocal)).ok());
}

TEST(JobFlags, MalformedValuesAreUsageErrorsNamingTheFlag) {
  for (const char* size : {"0", "12XB", "-5MB", "99999999999999999999GB"}) {
    auto o = ExportOptionsFromFlags(
        Parse({"c", "--max-shard-size", size}, ExportFlags(JobMode::kLocal)), JobMode::kLocal);
    ASSERT_FALSE(o.ok()) << size;
    EXPECT_NE(o.status().message().find("--max-shard-size"), std::string::npos) << o.status();
  }
  auto both = ExportOptionsFromFlags(
      Parse({"c", "--validate", "--no-validate"}, ExportFlags(JobMode::kRemote)), JobMode::kRemote);
  EXPECT_EQ(both.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseByteSize("500MB"), 500'000'000u);
  EXPECT_EQ(ParseByteSize("1kib"), 1024u);
}

TEST(JobFlags, TheServerReadsBackWhatTheClientMeant) {
  auto sent = ExportOptionsFromFlags(Parse(kShared, ExportFlags(JobMode::kRemote)), JobMode::kRemote);
  ASSERT_TRUE(sent.ok());
  const pb::ExportRequest req = ToExportRequest(*sent, "key-7");
  EXPECT_EQ(req.idempotency_key(), "key-7");
  auto got = server::ExportOptionsFromProto(req);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->checkpoint_dir, sent->checkpoint_dir);
  EXPECT_EQ(got->output_dir, sent->output_dir);
  EXPECT_EQ(got->device, sent->device);
  EXPECT_EQ(got->dry_run, sent->dry_run);
  EXPECT_EQ(got->overwrite, sent->overwrite);
  EXPECT_EQ(got->prefer_newest_file, sent->prefer_newest_file);
  EXPECT_EQ(got->validate, sent->validate);
  EXPECT_EQ(core::OutputAffectingOptions(*got), core::OutputAffectingOptions(*sent));

  auto v = ValidateOptionsFromFlags(
      Parse({"hf/run_7", "--source", "run/checkpoints/7", "--strict", "--device", "cpu"},
            ValidateFlags(JobMode::kRemote)),
      JobMode::kRemote);
  auto back = server::ValidateOptionsFromProto(ToValidateRequest(v));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->export_dir, (std::filesystem::current_path() / "hf/run_7").string());
  EXPECT_EQ(back->source_dir, v.source_dir);
  EXPECT_EQ(back->device, "cpu");
  EXPECT_TRUE(back->strict);
}

}  // namespace
}  // namespace neobert::cli
