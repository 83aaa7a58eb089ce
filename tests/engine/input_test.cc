// Input validation, §7.2 mask normalisation and §7.3 default positions
// (the torch-free half of Forward).
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/engine/engine.h"
#include "core/engine/internal.h"
#include "gtest/gtest.h"
#include "tests/engine/engine_test_util.h"

namespace neobert::engine {
namespace {

using testing::TinySpec;
constexpr double kInf = std::numeric_limits<double>::infinity();

std::vector<uint8_t> Keep(std::vector<double> v, ForwardInput::MaskKind kind) {
  absl::StatusOr<std::vector<uint8_t>> k = NormaliseMask(v, kind, static_cast<int64_t>(v.size()));
  EXPECT_TRUE(k.ok()) << k.status();
  return k.ok() ? *k : std::vector<uint8_t>{};
}

TEST(MaskNormalisation, TableOfSection72) {
  using V = std::vector<uint8_t>;
  // bool: the mask itself; integer: != 0, so integer zeros keep nothing.
  EXPECT_EQ(Keep({1, 0, 1}, ForwardInput::kBool), (V{1, 0, 1}));
  EXPECT_EQ(Keep({1, 0, 2}, ForwardInput::kInt), (V{1, 0, 1}));
  EXPECT_EQ(Keep({0, 0, 0}, ForwardInput::kInt), (V{0, 0, 0}));
  EXPECT_EQ(Keep({-3, 0, 5}, ForwardInput::kInt), (V{1, 0, 1}));
  // float 1/0: != 0.
  EXPECT_EQ(Keep({1, 0, 0.5}, ForwardInput::kFloat), (V{1, 0, 1}));
  // float all zeros: additive, keep everything.
  EXPECT_EQ(Keep({0, 0, 0}, ForwardInput::kFloat), (V{1, 1, 1}));
  // additive: >= 0.
  EXPECT_EQ(Keep({0, -kInf, 0}, ForwardInput::kFloat), (V{1, 0, 1}));
  EXPECT_EQ(Keep({0, -1e9, -1e-3}, ForwardInput::kFloat), (V{1, 0, 0}));
  // {1, -inf}: min < 0 → additive → keeps the 1s.
  EXPECT_EQ(Keep({1, -kInf, 1}, ForwardInput::kFloat), (V{1, 0, 1}));
  // max <= 0 with no negative: all zeros handled above; all -inf keeps none.
  EXPECT_EQ(Keep({-kInf, -kInf}, ForwardInput::kFloat), (V{0, 0}));
  // +inf is a (large) multiplicative keep.
  EXPECT_EQ(Keep({kInf, 0}, ForwardInput::kFloat), (V{1, 0}));
}

TEST(MaskNormalisation, RejectsBadValuesWithPosition) {
  auto err = [](std::vector<double> v, ForwardInput::MaskKind kind) {
    absl::StatusOr<std::vector<uint8_t>> k = NormaliseMask(v, kind, 2);
    EXPECT_FALSE(k.ok());
    return std::string(k.status().message());
  };
  EXPECT_NE(err({1, 1, std::nan(""), 1}, ForwardInput::kFloat).find("attention_mask[1][0] is NaN"),
            std::string::npos);
  EXPECT_NE(err({1, 0.5}, ForwardInput::kInt).find("[0][1] = 0.5 is not an integer"),
            std::string::npos);
  EXPECT_NE(err({1, 2}, ForwardInput::kBool).find("not a bool"), std::string::npos);
  EXPECT_NE(err({1, kInf}, ForwardInput::kInt).find("not an integer"), std::string::npos);
}

TEST(PrepareInput, DefaultPositionsRopeIgnorePadding) {
  ForwardInput in;
  in.input_ids = {{0, 5, 6}, {5, 6, 0}};
  absl::StatusOr<PreparedInput> p = PrepareInput(TinySpec(), in);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->positions, (std::vector<int64_t>{0, 1, 2, 0, 1, 2}));
  EXPECT_TRUE(p->keep.empty());
  EXPECT_TRUE(p->row_has_key.empty());
}

TEST(PrepareInput, DefaultLearnedPositionsAreOneBasedOverRealTokens) {
  ModelSpec s = TinySpec();
  s.rope = false;
  ForwardInput in;
  in.input_ids = {{0, 5, 0, 6}, {5, 6, 7, 0}};
  absl::StatusOr<PreparedInput> p = PrepareInput(s, in);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->positions, (std::vector<int64_t>{0, 1, 0, 2, 1, 2, 3, 0}));
  s.pad_token_id = std::nullopt;  // every token is real
  p = PrepareInput(s, in);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->positions, (std::vector<int64_t>{1, 2, 3, 4, 1, 2, 3, 4}));
  // Explicit ids are used as given (no +1 shift).
  in.position_ids = std::vector<std::vector<int64_t>>{{0, 1, 2, 3}, {8, 8, 0, 0}};
  p = PrepareInput(s, in);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->positions, (std::vector<int64_t>{0, 1, 2, 3, 8, 8, 0, 0}));
}

TEST(PrepareInput, KeepMaskAndKeylessRows) {
  ForwardInput in;
  in.input_ids = {{1, 2}, {3, 4}, {5, 6}};
  in.attention_mask = std::vector<std::vector<double>>{{1, 1}, {1, 0}, {0, 0}};
  absl::StatusOr<PreparedInput> p = PrepareInput(TinySpec(), in);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->keep, (std::vector<uint8_t>{1, 1, 1, 0, 0, 0}));
  EXPECT_EQ(p->row_has_key, (std::vector<uint8_t>{1, 1, 0}));
  // An all-keep mask is dropped: the forward skips masking entirely.
  in.attention_mask = std::vector<std::vector<double>>{{1, 1}, {1, 1}, {1, 1}};
  p = PrepareInput(TinySpec(), in);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->keep.empty());
}

TEST(PrepareInput, RejectsInvalidInputs) {
  const ModelSpec spec = TinySpec();
  ModelSpec learned = spec;
  learned.rope = false;
  struct Case {
    std::string what;
    ForwardInput in;
    const ModelSpec* spec;
    std::string needle;
  };
  std::vector<Case> cases;
  auto base = [] {
    ForwardInput in;
    in.input_ids = {{1, 2, 3}, {4, 5, 6}};
    return in;
  };
  {
    ForwardInput in;
    cases.push_back({"no rows", in, &spec, "no rows"});
  }
  {
    ForwardInput in;
    in.input_ids = {{}};
    cases.push_back({"empty row", in, &spec, "row 0 is empty"});
  }
  {
    ForwardInput in = base();
    in.input_ids[1].pop_back();
    cases.push_back({"ragged", in, &spec, "input_ids row 1 has 2 entries; expected 3"});
  }
  {
    ForwardInput in = base();
    in.input_ids[1][2] = 16;
    cases.push_back({"id >= V", in, &spec, "input_ids[1][2] = 16 is outside [0, 16)"});
  }
  {
    ForwardInput in = base();
    in.input_ids[0][0] = -1;
    cases.push_back({"negative id", in, &spec, "input_ids[0][0] = -1"});
  }
  {
    ForwardInput in = base();
    in.attention_mask = std::vector<std::vector<double>>{{1, 1, 1}};
    cases.push_back({"mask rows", in, &spec, "attention_mask has 1 rows; input_ids has 2"});
  }
  {
    ForwardInput in = base();
    in.attention_mask = std::vector<std::vector<double>>{{1, 1, 1}, {1, 1}};
    cases.push_back({"mask ragged", in, &spec, "attention_mask row 1 has 2 entries"});
  }
  {
    ForwardInput in = base();
    in.attention_mask = std::vector<std::vector<double>>{{1, 1, 1}, {1, std::nan(""), 1}};
    in.mask_kind = ForwardInput::kFloat;
    cases.push_back({"mask NaN", in, &spec, "attention_mask[1][1] is NaN"});
  }
  {
    ForwardInput in = base();
    in.position_ids = std::vector<std::vector<int64_t>>{{0, 1, 2}, {0, -1, 2}};
    cases.push_back({"negative position", in, &spec, "position_ids[1][1] = -1 is negative"});
  }
  {
    ForwardInput in = base();
    in.position_ids = std::vector<std::vector<int64_t>>{{0, 1, 2}};
    cases.push_back({"position rows", in, &spec, "position_ids has 1 rows"});
  }
  {
    ForwardInput in = base();
    in.position_ids = std::vector<std::vector<int64_t>>{{0, 1, 9}, {0, 1, 2}};
    cases.push_back({"learned position > P", in, &learned,
                     "position_ids[0][2] = 9 exceeds max_length 8"});
  }
  {
    ForwardInput in = base();
    in.position_ids = std::vector<std::vector<int64_t>>{{0, 1, int64_t{1} << 24}, {0, 1, 2}};
    cases.push_back({"rope position too large", in, &spec, "RoPE limit"});
  }
  {
    ForwardInput in;
    in.input_ids = {std::vector<int64_t>(9, 1)};  // default learned positions 1..9 > P
    cases.push_back({"default learned position > P", in, &learned,
                     "default position of token[0][8] = 9 exceeds max_length 8"});
  }
  {
    ForwardInput in;
    in.input_ids = {std::vector<int64_t>(kMaxForwardTokens + 1, 1)};
    cases.push_back({"too many tokens", in, &spec, "cap"});
  }
  {
    ForwardInput in;
    in.input_ids = {std::vector<int64_t>(1 << 17, 1)};  // A*S*S = 2^35 scores
    cases.push_back({"too many scores", in, &spec, "attention scores"});
  }
  for (const Case& c : cases) {
    absl::StatusOr<PreparedInput> p = PrepareInput(*c.spec, c.in);
    ASSERT_FALSE(p.ok()) << c.what;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument) << c.what;
    EXPECT_NE(p.status().message().find(c.needle), absl::string_view::npos)
        << c.what << ": " << p.status();
  }
}

}  // namespace
}  // namespace neobert::engine
