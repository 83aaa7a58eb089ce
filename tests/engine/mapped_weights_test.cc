// Weights taken from a read-only mapping of the weight file instead of a copy
// (core/engine/weights.cc): when it happens, that the results are the same as
// from copied weights, that the mappings go with the model, and the copy
// fallback (a cast, a misaligned offset). Also EngineOptions::float32_fallback.
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "core/engine/engine.h"
#include "core/format/byte_source.h"
#include "core/format/safetensors.h"
#include "gtest/gtest.h"
#include "tests/engine/engine_test_util.h"

namespace neobert::engine {
namespace {

using testing::MakeTinyModel;
using testing::PaddedIds;
using testing::TinyModel;
using testing::TinySpec;

// Lines of /proc/self/maps naming `file`: live mappings of that file.
int MappingsOf(const std::string& file) {
  const std::string path = std::filesystem::canonical(file).string();  // as the kernel names it
  std::ifstream maps("/proc/self/maps");
  int n = 0;
  for (std::string line; std::getline(maps, line);) {
    if (line.size() >= path.size() && line.compare(line.size() - path.size(), path.size(), path) == 0) {
      ++n;
    }
  }
  return n;
}

class MappedWeights : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/mapped_weights_" + std::to_string(::getpid());
    std::filesystem::create_directories(dir_);
    path_ = dir_ + "/model.safetensors";
    ASSERT_TRUE(format::WriteSafetensors(m_.Entries(), path_).ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::vector<format::TensorEntry> FromFile() {
    absl::StatusOr<format::TensorSet> set = format::ReadSafetensors(base::FsRoot(), path_);
    EXPECT_TRUE(set.ok()) << set.status();
    return set.ok() ? set->tensors : std::vector<format::TensorEntry>{};
  }

  static ForwardInput Input() {
    ForwardInput in;
    in.input_ids = PaddedIds();
    return in;
  }

  const TinyModel m_ = MakeTinyModel(TinySpec());
  std::string dir_, path_;
};

TEST_F(MappedWeights, SameDtypeOnCpuKeepsTheFileMappedUntilTheModelGoes) {
  absl::StatusOr<std::unique_ptr<NeoBertModel>> copied =
      NeoBertModel::Create(m_.spec, m_.Entries(), {.device = "cpu"});
  ASSERT_TRUE(copied.ok()) << copied.status();
  std::vector<format::TensorEntry> tensors = FromFile();
  ASSERT_EQ(tensors.size(), m_.order.size());
  ASSERT_EQ(MappingsOf(path_), 0);
  {
    absl::StatusOr<std::unique_ptr<NeoBertModel>> mapped =
        NeoBertModel::Create(m_.spec, tensors, {.device = "cpu"});
    ASSERT_TRUE(mapped.ok()) << mapped.status();
    // One mapping per tensor (adjacent ones may be merged by the kernel).
    EXPECT_GT(MappingsOf(path_), 0);
    tensors.clear();  // the model needs neither the entries nor the open file
    absl::StatusOr<ForwardOutput> a = (*mapped)->Forward(Input());
    absl::StatusOr<ForwardOutput> b = (*copied)->Forward(Input());
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->last_hidden_state, b->last_hidden_state);
    EXPECT_EQ(a->logits, b->logits);
  }
  EXPECT_EQ(MappingsOf(path_), 0) << "the model's mappings outlived it";
}

TEST_F(MappedWeights, CastWeightsAreCopiesAndReleaseTheMapping) {
  absl::StatusOr<std::unique_ptr<NeoBertModel>> f64 =
      NeoBertModel::Create(m_.spec, FromFile(), {.device = "cpu", .compute_dtype = format::DType::kFloat64});
  ASSERT_TRUE(f64.ok()) << f64.status();
  // Each mapping served as the cast's source only.
  EXPECT_EQ(MappingsOf(path_), 0);
  EXPECT_TRUE((*f64)->Forward(Input()).ok());
}

TEST_F(MappedWeights, MisalignedOffsetFallsBackToACopy) {
  // The float32 embedding one byte into a file: not mappable as float32.
  const std::string odd = dir_ + "/odd.bin";
  const std::vector<float>& embed = m_.at("model.encoder.weight");
  {
    std::ofstream f(odd, std::ios::binary);
    f.put('\0');
    f.write(reinterpret_cast<const char*>(embed.data()),
            static_cast<std::streamsize>(embed.size() * sizeof(float)));
  }
  absl::StatusOr<std::shared_ptr<format::FileSource>> src = format::FileSource::Open(base::FsRoot(), odd);
  ASSERT_TRUE(src.ok()) << src.status();
  std::vector<format::TensorEntry> tensors = m_.Entries();
  for (format::TensorEntry& t : tensors) {
    if (t.name != "model.encoder.weight") continue;
    t.storage.source = *src;
    t.storage.offset = 1;
    t.storage.nbytes = embed.size() * sizeof(float);
  }
  absl::StatusOr<std::unique_ptr<NeoBertModel>> model =
      NeoBertModel::Create(m_.spec, tensors, {.device = "cpu"});
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(MappingsOf(odd), 0);
  absl::StatusOr<std::unique_ptr<NeoBertModel>> reference =
      NeoBertModel::Create(m_.spec, m_.Entries(), {.device = "cpu"});
  ASSERT_TRUE(reference.ok());
  absl::StatusOr<ForwardOutput> a = (*model)->Forward(Input());
  absl::StatusOr<ForwardOutput> b = (*reference)->Forward(Input());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->logits, b->logits);
}

TEST_F(MappedWeights, FileShorterThanItsTensorsIsAnError) {
  std::vector<format::TensorEntry> tensors = FromFile();
  std::filesystem::resize_file(path_, 64);  // every tensor now lies past the end
  absl::StatusOr<std::unique_ptr<NeoBertModel>> model =
      NeoBertModel::Create(m_.spec, tensors, {.device = "cpu"});
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), absl::StatusCode::kOutOfRange) << model.status();
  EXPECT_NE(model.status().message().find("shorter than when it was opened"), std::string::npos)
      << model.status();
  EXPECT_EQ(MappingsOf(path_), 0);
}

TEST(Float32Fallback, UnsupportedComputeDtypeRunsInFloat32InsteadOfFailing) {
  const TinyModel m = MakeTinyModel(TinySpec());
  // float16 matrix products: missing on CPU in LibTorch 1.13, present later.
  absl::StatusOr<std::unique_ptr<NeoBertModel>> strict = NeoBertModel::Create(
      m.spec, m.Entries(format::DType::kFloat16),
      {.device = "cpu", .compute_dtype = format::DType::kFloat16});
  absl::StatusOr<std::unique_ptr<NeoBertModel>> lenient = NeoBertModel::Create(
      m.spec, m.Entries(format::DType::kFloat16),
      {.device = "cpu", .compute_dtype = format::DType::kFloat16, .float32_fallback = true});
  ASSERT_TRUE(lenient.ok()) << lenient.status();
  EXPECT_EQ((*lenient)->compute_dtype(), strict.ok() ? "float16" : "float32");
  ForwardInput in;
  in.input_ids = PaddedIds();
  EXPECT_TRUE((*lenient)->Forward(in).ok());
}

}  // namespace
}  // namespace neobert::engine
