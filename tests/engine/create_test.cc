// NeoBertModel::Create: tensor-set checks, strided / tied / 16-bit weights,
// compute dtype and device options; SanityCheck; the safetensors dump.
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "core/engine/engine.h"
#include "core/format/cast.h"
#include "core/format/safetensors.h"
#include "gtest/gtest.h"
#include "tests/engine/engine_test_util.h"

namespace neobert::engine {
namespace {

using testing::MakeTinyModel;
using testing::MaxAbsDiff;
using testing::NaiveForward;
using testing::PaddedIds;
using testing::TinyModel;
using testing::TinySpec;

EngineOptions Cpu() {
  EngineOptions o;
  o.device = "cpu";
  return o;
}

absl::Status CreateStatus(const ModelSpec& spec, const std::vector<format::TensorEntry>& t,
                          const EngineOptions& o = Cpu()) {
  return NeoBertModel::Create(spec, t, o).status();
}

ForwardInput Input() {
  ForwardInput in;
  in.input_ids = PaddedIds();
  return in;
}

std::vector<format::TensorEntry>::iterator Find(std::vector<format::TensorEntry>& v,
                                                const std::string& name) {
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (it->name == name) return it;
  }
  ADD_FAILURE() << "no tensor " << name;
  return v.end();
}

TEST(Create, ListsEveryMismatch) {
  const TinyModel m = MakeTinyModel(TinySpec());
  std::vector<format::TensorEntry> t = m.Entries();
  t.erase(Find(t, "model.transformer_encoder.1.wo.weight"));
  Find(t, "model.transformer_encoder.0.ffn.w2.weight")->shape = {12, 8};  // not the width 8
  Find(t, "model.transformer_encoder.0.ffn.w2.weight")->strides = {8, 1};
  t.push_back(m.Entry("model.encoder.weight"));
  t.back().name = "model.extra.weight";
  const absl::Status s = CreateStatus(m.spec, t);
  ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  const std::string msg(s.message());
  EXPECT_NE(msg.find("3 problem(s)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("model.transformer_encoder.1.wo.weight: missing"), std::string::npos) << msg;
  EXPECT_NE(msg.find("ffn.w2.weight: shape (12, 8), expected"), std::string::npos) << msg;
  EXPECT_NE(msg.find("model.extra.weight: unexpected"), std::string::npos) << msg;
}

TEST(Create, RejectsDuplicatesIntegersBiasMismatchAndBadBounds) {
  const TinyModel m = MakeTinyModel(TinySpec());
  {
    std::vector<format::TensorEntry> t = m.Entries();
    t.push_back(t.front());
    EXPECT_NE(CreateStatus(m.spec, t).message().find("appears more than once"), absl::string_view::npos);
  }
  {
    std::vector<format::TensorEntry> t = m.Entries();
    *Find(t, "model.layer_norm.weight") = m.Entry("model.layer_norm.weight", format::DType::kFloat32);
    Find(t, "model.layer_norm.weight")->dtype = format::DType::kInt32;
    EXPECT_NE(CreateStatus(m.spec, t).message().find("int32 is not floating point"),
              absl::string_view::npos);
  }
  {
    // decoder.bias present but the spec has none (and the other way round).
    ModelSpec with = TinySpec();
    with.decoder_bias = true;
    const TinyModel mb = MakeTinyModel(with);
    EXPECT_NE(CreateStatus(TinySpec(), mb.Entries()).message().find("decoder_bias: false"),
              absl::string_view::npos);
    EXPECT_NE(CreateStatus(with, m.Entries()).message().find("decoder.bias: missing"),
              absl::string_view::npos);
  }
  {
    // A view that reaches past its storage.
    std::vector<format::TensorEntry> t = m.Entries();
    Find(t, "model.transformer_encoder.0.qkv.weight")->storage_offset = 1;
    const absl::Status s = CreateStatus(m.spec, t);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_NE(s.message().find("qkv.weight"), absl::string_view::npos) << s;
  }
  {
    ModelSpec bad = TinySpec();
    bad.num_attention_heads = 3;
    EXPECT_NE(CreateStatus(bad, m.Entries()).message().find("not divisible"), absl::string_view::npos);
  }
}

TEST(Create, StridedViewsAndSharedStorage) {
  const TinyModel m = MakeTinyModel(TinySpec());
  std::vector<format::TensorEntry> t = m.Entries();
  // qkv.weight (24, 8) stored transposed: storage holds W^T (8, 24) row-major,
  // the view has strides (1, 24), plus 3 junk elements in front.
  {
    const std::vector<float>& w = m.at("model.transformer_encoder.0.qkv.weight");
    std::vector<float> wt(3 + 24 * 8, 1e30f);
    for (int r = 0; r < 24; ++r) {
      for (int c = 0; c < 8; ++c) wt[3 + c * 24 + r] = w[r * 8 + c];
    }
    std::vector<uint8_t> bytes(wt.size() * 4);
    std::memcpy(bytes.data(), wt.data(), bytes.size());
    format::TensorEntry& e = *Find(t, "model.transformer_encoder.0.qkv.weight");
    e.strides = {1, 24};
    e.storage_offset = 3;
    e.storage.nbytes = bytes.size();
    e.storage.source = std::make_shared<format::MemorySource>(std::move(bytes));
  }
  // Layer-1 w1/w2 as two row windows of one (16, 8) storage (a split w12).
  {
    const std::vector<float>& w1 = m.at("model.transformer_encoder.1.ffn.w1.weight");
    const std::vector<float>& w2 = m.at("model.transformer_encoder.1.ffn.w2.weight");
    std::vector<float> both(w1);
    both.insert(both.end(), w2.begin(), w2.end());
    std::vector<uint8_t> bytes(both.size() * 4);
    std::memcpy(bytes.data(), both.data(), bytes.size());
    auto src = std::make_shared<format::MemorySource>(std::move(bytes));
    for (const char* name : {"ffn.w1.weight", "ffn.w2.weight"}) {
      format::TensorEntry& e = *Find(t, std::string("model.transformer_encoder.1.") + name);
      e.storage.source = src;
      e.storage.nbytes = src->size();
      e.storage.key = "w12";
      e.storage_offset = std::string(name) == "ffn.w1.weight" ? 0 : 8 * 8;
    }
  }
  // Tied decoder: the very same view as the embedding.
  {
    const format::TensorEntry embed = *Find(t, "model.encoder.weight");
    format::TensorEntry& dec = *Find(t, "decoder.weight");
    dec = embed;
    dec.name = "decoder.weight";
  }
  TinyModel tied = m;
  tied.values["decoder.weight"] = m.at("model.encoder.weight");
  absl::StatusOr<std::unique_ptr<NeoBertModel>> model = NeoBertModel::Create(m.spec, t, Cpu());
  ASSERT_TRUE(model.ok()) << model.status();
  absl::StatusOr<ForwardOutput> out = (*model)->Forward(Input());
  ASSERT_TRUE(out.ok()) << out.status();
  const testing::NaiveOutput want = NaiveForward(tied, PaddedIds());
  EXPECT_LE(MaxAbsDiff(out->last_hidden_state, want.hidden), 2e-5);
  EXPECT_LE(MaxAbsDiff(out->logits, want.logits), 1e-4);
}

TEST(Create, SixteenBitWeights) {
  const TinyModel m = MakeTinyModel(TinySpec(), 9, /*bf16_exact=*/true);
  absl::StatusOr<std::unique_ptr<NeoBertModel>> f32 =
      NeoBertModel::Create(m.spec, m.Entries(format::DType::kFloat32), Cpu());
  absl::StatusOr<std::unique_ptr<NeoBertModel>> bf16 =
      NeoBertModel::Create(m.spec, m.Entries(format::DType::kBFloat16), Cpu());
  ASSERT_TRUE(f32.ok()) << f32.status();
  ASSERT_TRUE(bf16.ok()) << bf16.status();
  EXPECT_EQ((*bf16)->compute_dtype(), "float32");  // upcast by default
  absl::StatusOr<ForwardOutput> a = (*f32)->Forward(Input());
  absl::StatusOr<ForwardOutput> b = (*bf16)->Forward(Input());
  ASSERT_TRUE(a.ok() && b.ok());
  // Same float32 values after an exact upcast: bit-identical results.
  EXPECT_EQ(a->last_hidden_state, b->last_hidden_state);
  EXPECT_EQ(a->logits, b->logits);

  // Native bfloat16: close to the float32 result at bfloat16 precision.
  EngineOptions native = Cpu();
  native.compute_dtype = std::nullopt;
  absl::StatusOr<std::unique_ptr<NeoBertModel>> nb =
      NeoBertModel::Create(m.spec, m.Entries(format::DType::kBFloat16), native);
  ASSERT_TRUE(nb.ok()) << nb.status();
  EXPECT_EQ((*nb)->compute_dtype(), "bfloat16");
  absl::StatusOr<ForwardOutput> c = (*nb)->Forward(Input());
  ASSERT_TRUE(c.ok()) << c.status();
  const double err = MaxAbsDiff(c->last_hidden_state, a->last_hidden_state);
  EXPECT_GT(err, 0.0);   // it really ran in bfloat16
  EXPECT_LT(err, 0.25);  // ~2^-8 relative per op over two blocks on O(1) values

  // Native needs one dtype.
  std::vector<format::TensorEntry> mixed = m.Entries(format::DType::kBFloat16);
  *Find(mixed, "decoder.weight") = m.Entry("decoder.weight", format::DType::kFloat32);
  const absl::Status s = CreateStatus(m.spec, mixed, native);
  EXPECT_NE(s.message().find("needs one weight dtype"), absl::string_view::npos) << s;

  // Native float16: this LibTorch either runs it (close to float32) or refuses
  // it up front with a clear message (LibTorch 1.13 has no CPU half matmul).
  absl::StatusOr<std::unique_ptr<NeoBertModel>> nh =
      NeoBertModel::Create(m.spec, m.Entries(format::DType::kFloat16), native);
  if (nh.ok()) {
    absl::StatusOr<ForwardOutput> h = (*nh)->Forward(Input());
    ASSERT_TRUE(h.ok()) << h.status();
    EXPECT_LT(MaxAbsDiff(h->last_hidden_state, a->last_hidden_state), 0.05);
  } else {
    EXPECT_EQ(nh.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(nh.status().message().find("float16 is not supported by this LibTorch on cpu"),
              absl::string_view::npos)
        << nh.status();
  }
  // float16 weights upcast to float32 by default always work.
  absl::StatusOr<std::unique_ptr<NeoBertModel>> h32 =
      NeoBertModel::Create(m.spec, m.Entries(format::DType::kFloat16), Cpu());
  ASSERT_TRUE(h32.ok()) << h32.status();
  EXPECT_TRUE((*h32)->Forward(Input()).ok());
}

TEST(Create, DeviceStrings) {
  const TinyModel m = MakeTinyModel(TinySpec());
  EngineOptions o;
  o.device = "auto";
  absl::StatusOr<std::unique_ptr<NeoBertModel>> a = NeoBertModel::Create(m.spec, m.Entries(), o);
  ASSERT_TRUE(a.ok()) << a.status();
  const std::string dev = (*a)->device();
  EXPECT_TRUE(dev == "cpu" || dev.rfind("cuda:", 0) == 0) << dev;
  for (const char* bad : {"tpu", "cuda:", "cuda:x", "cuda:-1", "CPU", ""}) {
    o.device = bad;
    EXPECT_EQ(CreateStatus(m.spec, m.Entries(), o).code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
  if (dev == "cpu") {  // auto chose the CPU: no usable CUDA device
    o.device = "cuda";
    const absl::Status s = CreateStatus(m.spec, m.Entries(), o);
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
    EXPECT_NE(s.message().find("device 'cuda'"), absl::string_view::npos) << s;
  }
  o.device = "cuda:100";
  EXPECT_EQ(CreateStatus(m.spec, m.Entries(), o).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(SanityCheck, PassesAndCatchesProblems) {
  const TinyModel m = MakeTinyModel(TinySpec());
  absl::StatusOr<std::unique_ptr<NeoBertModel>> model =
      NeoBertModel::Create(m.spec, m.Entries(), Cpu());
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_TRUE(SanityCheck(**model, 16, 8, 42).ok());
  EXPECT_EQ(SanityCheck(**model, 17, 8, 42).code(), absl::StatusCode::kInvalidArgument);

  // NaN in the decoder: hidden states are fine, logits are not.
  TinyModel bad = m;
  bad.values["decoder.weight"][5 * 8 + 3] = std::numeric_limits<float>::quiet_NaN();
  absl::StatusOr<std::unique_ptr<NeoBertModel>> nan_model =
      NeoBertModel::Create(bad.spec, bad.Entries(), Cpu());
  ASSERT_TRUE(nan_model.ok()) << nan_model.status();
  const absl::Status s = SanityCheck(**nan_model, 16, 8, 42);
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal) << s;
  EXPECT_NE(s.message().find("logits["), absl::string_view::npos) << s;

  // P = 1: length 1, no padded position.
  ModelSpec p1 = TinySpec();
  p1.max_position_embeddings = 1;
  const TinyModel m1 = MakeTinyModel(p1);
  absl::StatusOr<std::unique_ptr<NeoBertModel>> one = NeoBertModel::Create(p1, m1.Entries(), Cpu());
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_TRUE(SanityCheck(**one, 16, 1, 1).ok());
}

TEST(WriteForwardOutput, SafetensorsRoundTrip) {
  const TinyModel m = MakeTinyModel(TinySpec());
  absl::StatusOr<std::unique_ptr<NeoBertModel>> model =
      NeoBertModel::Create(m.spec, m.Entries(), Cpu());
  ASSERT_TRUE(model.ok()) << model.status();
  absl::StatusOr<ForwardOutput> out = (*model)->Forward(Input());
  ASSERT_TRUE(out.ok()) << out.status();
  const std::string path = ::testing::TempDir() + "/engine_forward_out.safetensors";
  ASSERT_TRUE(WriteForwardOutputSafetensors(*out, neobert::base::FsRoot(), path).ok());
  absl::StatusOr<format::TensorSet> set = format::ReadSafetensors(neobert::base::FsRoot(), path);
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_EQ(set->tensors.size(), 2u);
  for (const format::TensorEntry& t : set->tensors) {
    const bool hidden = t.name == "last_hidden_state";
    ASSERT_TRUE(hidden || t.name == "logits") << t.name;
    EXPECT_EQ(t.dtype, format::DType::kFloat32);
    EXPECT_EQ(t.shape, hidden ? out->hidden_shape : out->logits_shape);
    absl::StatusOr<std::vector<uint8_t>> bytes = format::ReadContiguous(t);
    ASSERT_TRUE(bytes.ok());
    const std::vector<float>& want = hidden ? out->last_hidden_state : out->logits;
    ASSERT_EQ(bytes->size(), want.size() * 4);
    EXPECT_EQ(std::memcmp(bytes->data(), want.data(), bytes->size()), 0);
  }
  std::filesystem::remove(path);
  ForwardOutput broken = *out;
  broken.logits.pop_back();
  const absl::Status s = WriteForwardOutputSafetensors(broken, neobert::base::FsRoot(), path);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("logits"), absl::string_view::npos);
}

}  // namespace
}  // namespace neobert::engine
