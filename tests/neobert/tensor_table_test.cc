#include "core/neobert/tensor_table.h"

#include <set>
#include <string>

#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "tests/neobert/test_util.h"

namespace neobert::core {
namespace {

constexpr TensorRole kAllRoles[] = {
    TensorRole::kEmbedding,      TensorRole::kPositionalEmbedding, TensorRole::kQkv,
    TensorRole::kWo,             TensorRole::kFfnW1,               TensorRole::kFfnW2,
    TensorRole::kFfnW3,          TensorRole::kFfn0,                TensorRole::kFfn2,
    TensorRole::kAttentionNorm,  TensorRole::kAttentionNormBias,   TensorRole::kFfnNorm,
    TensorRole::kFfnNormBias,    TensorRole::kFinalNorm,           TensorRole::kFinalNormBias,
    TensorRole::kDecoder,        TensorRole::kDecoderBias,
};

TEST(TensorTableTest, EveryRoleHasItsOwnName) {
  std::set<std::string> names;
  for (TensorRole role : kAllRoles) {
    const std::string name = TensorName(role, 3);
    EXPECT_TRUE(names.insert(name).second) << name;
    EXPECT_EQ(IsPerLayer(role), name.find(".3.") != std::string::npos) << name;
  }
  EXPECT_EQ(TensorName(TensorRole::kEmbedding), "model.encoder.weight");
  EXPECT_EQ(TensorName(TensorRole::kFfnW2, 11), "model.transformer_encoder.11.ffn.w2.weight");
  EXPECT_EQ(TensorName(TensorRole::kDecoderBias), "decoder.bias");
}

TEST(TensorTableTest, RowsCarryTheirRoleAndLayer) {
  for (const std::string& variant : {std::string("swiglu"), std::string("gelu")}) {
    SCOPED_TRACE(variant);
    const NeoBertConfig c = *ParseCheckpointConfig(absl::StrReplaceAll(
        testing::TinyConfigYaml(), {{"hidden_act: swiglu", "hidden_act: " + variant},
                                    {"rms_norm: true", "rms_norm: false"}}));
    std::set<TensorRole> seen;
    for (const ExpectedTensor& e : ExpectedTensors(c)) {
      seen.insert(e.role);
      EXPECT_EQ(e.name, TensorName(e.role, e.layer < 0 ? 0 : e.layer));
      EXPECT_EQ(e.layer >= 0, IsPerLayer(e.role)) << e.name;
      EXPECT_LT(e.layer, c.num_hidden_layers) << e.name;
    }
    EXPECT_EQ(seen.count(TensorRole::kFfnW1), variant == "swiglu" ? 1u : 0u);
    EXPECT_EQ(seen.count(TensorRole::kFfn0), variant == "gelu" ? 1u : 0u);
    EXPECT_EQ(seen.count(TensorRole::kFinalNormBias), 1u);  // LayerNorm
  }
}

}  // namespace
}  // namespace neobert::core
