// Helpers shared by the neobert knowledge tests: tensors over in-memory
// storages, small configs, temporary folders.
#pragma once

#include <stdlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/base/config.h"
#include "absl/strings/string_view.h"
#include "core/format/byte_source.h"
#include "core/format/tensor.h"
#include "core/neobert/checkpoint_config.h"
#include "gtest/gtest.h"

// Failure output shows Status messages as text, not as a char container.
namespace absl {
ABSL_NAMESPACE_BEGIN
inline void PrintTo(absl::string_view s, std::ostream* os) { *os << '"' << s << '"'; }
ABSL_NAMESPACE_END
}  // namespace absl

namespace neobert::core::testing {

// A contiguous tensor over its own zero-filled storage.
inline format::TensorEntry MakeTensor(const std::string& name, std::vector<int64_t> shape,
                                      format::DType dtype = format::DType::kFloat32) {
  format::TensorEntry t;
  t.name = name;
  t.dtype = dtype;
  t.shape = shape;
  t.strides = format::ContiguousStrides(shape);
  uint64_t numel = 1;
  for (int64_t d : shape) numel *= static_cast<uint64_t>(d);
  const uint64_t nbytes = numel * format::ElementSize(dtype);
  t.storage.source = std::make_shared<format::MemorySource>(std::vector<uint8_t>(nbytes));
  t.storage.nbytes = nbytes;
  t.storage.key = name;
  return t;
}

// YAML for a tiny NeoBERT: H 8, L 2, A 2, I 12 (SwiGLU width 8), V 16, P 8.
inline std::string TinyConfigYaml(const std::string& model_extra = "") {
  return "model:\n"
         "  name: null\n"
         "  hidden_size: 8\n"
         "  num_hidden_layers: 2\n"
         "  num_attention_heads: 2\n"
         "  intermediate_size: 12\n"
         "  max_position_embeddings: 8\n"
         "  vocab_size: 16\n"
         "  rope: true\n"
         "  rms_norm: true\n"
         "  hidden_act: swiglu\n"
         "  dropout_prob: 0.0\n"
         "  norm_eps: 1.0e-05\n"
         "  embedding_init_range: 0.02\n"
         "  decoder_init_range: 0.02\n"
         "  attn_backend: sdpa\n"
         "  ngpt: false\n"
         "  pad_token_id: 0\n" +
         model_extra +
         "dataset:\n"
         "  name: refinedweb\n"
         "trainer:\n"
         "  output_dir: ./output\n";
}

inline NeoBertConfig TinyConfig(const std::string& model_extra = "") {
  auto c = ParseCheckpointConfig(TinyConfigYaml(model_extra));
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}

// A fresh directory under the test temp dir, removed on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "/neobert_knowledge_XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    char* made = ::mkdtemp(buf.data());
    EXPECT_NE(made, nullptr);
    path_ = std::filesystem::canonical(made);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

  // Writes `content` to path()/rel, creating parent folders.
  std::string Write(const std::string& rel, const std::string& content) const {
    const std::filesystem::path p = path_ / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }

 private:
  std::filesystem::path path_;
};

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace neobert::core::testing
